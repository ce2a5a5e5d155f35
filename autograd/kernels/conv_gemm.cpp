#include "autograd/kernels/conv_gemm.h"

#include <algorithm>
#include <cstring>

#include "autograd/kernels/gemm.h"
#include "autograd/tensor.h"

namespace tg::kernels {

namespace {
// Patch elements per chunk: 8 MB of float32, enough rows for an efficient GEMM while staying near cache.
constexpr int64_t kWorkspaceElements = int64_t(1) << 21;

int64_t chunk_lines(const ConvGeometry& g) {
  const int64_t per_line = std::max<int64_t>(g.out_w * g.patch(), 1);
  return std::clamp<int64_t>(kWorkspaceElements / per_line, 1, std::max<int64_t>(g.lines(), 1));
}

template <class T>
Tensor workspace(const ConvGeometry& g) {
  return Tensor({chunk_lines(g) * g.out_w * g.patch()}, dtype_of<T>());
}
}  // namespace

template <class T>
void conv_forward(const T* x, const T* w, const ConvGeometry& g, T* y) {
  const int64_t k = g.patch(), n = g.out_c;
  if (g.pointwise()) {
    gemm(false, false, g.lines() * g.out_w, n, k, T(1), x, k, w, n, T(0), y, n);
    return;
  }
  Tensor ws = workspace<T>(g);
  T* cols = ws.data<T>();
  const int64_t step = chunk_lines(g);
  for (int64_t l0 = 0; l0 < g.lines(); l0 += step) {
    const int64_t l1 = std::min(g.lines(), l0 + step), m = (l1 - l0) * g.out_w;
    im2col(x, g, l0, l1, cols);
    gemm(false, false, m, n, k, T(1), cols, k, w, n, T(0), y + l0 * g.out_w * n, n);
  }
}

template <class T>
void conv_input_grad(const T* dy, const T* w, const ConvGeometry& g, T* dx) {
  const int64_t k = g.patch(), n = g.out_c;
  if (g.pointwise()) {
    gemm(false, true, g.lines() * g.out_w, k, n, T(1), dy, n, w, n, T(0), dx, k);
    return;
  }
  if (g.stride_h == 1 && g.stride_w == 1) {
    // At stride 1 the input gradient is itself a convolution of dy, with the kernel rotated by 180 degrees and
    // its channel axes swapped: one im2col and a GEMM with the long K, instead of a GEMM with K = Cout that
    // writes every patch and a col2im that adds them up.
    const int64_t kh = g.kernel_h, kw = g.kernel_w, ci = g.in_c;
    Tensor rotated({kh, kw, n, ci}, dtype_of<T>());
    T* r = rotated.data<T>();
    for (int64_t ky = 0; ky < kh; ++ky)
      for (int64_t kx = 0; kx < kw; ++kx)
        for (int64_t c = 0; c < ci; ++c)
          for (int64_t o = 0; o < n; ++o)
            r[((ky * kw + kx) * n + o) * ci + c] = w[(((kh - 1 - ky) * kw + (kw - 1 - kx)) * ci + c) * n + o];
    ConvGeometry back = g;
    back.in_h = g.out_h, back.in_w = g.out_w, back.in_c = n;
    back.out_h = g.in_h, back.out_w = g.in_w, back.out_c = ci;
    back.pad_top = (kh - 1) * g.dilation_h - g.pad_top;
    back.pad_left = (kw - 1) * g.dilation_w - g.pad_left;
    conv_forward(dy, r, back, dx);
    return;
  }
  std::memset(dx, 0, sizeof(T) * static_cast<size_t>(g.batch * g.in_h * g.in_w * g.in_c));
  Tensor ws = workspace<T>(g);
  T* cols = ws.data<T>();
  const int64_t step = chunk_lines(g);
  for (int64_t l0 = 0; l0 < g.lines(); l0 += step) {
    const int64_t l1 = std::min(g.lines(), l0 + step), m = (l1 - l0) * g.out_w;
    gemm(false, true, m, k, n, T(1), dy + l0 * g.out_w * n, n, w, n, T(0), cols, k);
    col2im_add(cols, g, l0, l1, dx);
  }
}

template <class T>
void conv_kernel_grad(const T* x, const T* dy, const ConvGeometry& g, T* dw) {
  const int64_t k = g.patch(), n = g.out_c;
  if (g.pointwise()) {
    gemm(true, false, k, n, g.lines() * g.out_w, T(1), x, k, dy, n, T(0), dw, n);
    return;
  }
  Tensor ws = workspace<T>(g);
  T* cols = ws.data<T>();
  const int64_t step = chunk_lines(g);
  for (int64_t l0 = 0; l0 < g.lines(); l0 += step) {
    const int64_t l1 = std::min(g.lines(), l0 + step), m = (l1 - l0) * g.out_w;
    im2col(x, g, l0, l1, cols);
    // Chunks add into dw in a fixed order, so the sum does not depend on the thread count.
    gemm(true, false, k, n, m, T(1), cols, k, dy + l0 * g.out_w * n, n, l0 == 0 ? T(0) : T(1), dw, n);
  }
  if (g.lines() == 0) std::memset(dw, 0, sizeof(T) * static_cast<size_t>(k * n));
}

template void conv_forward<float>(const float*, const float*, const ConvGeometry&, float*);
template void conv_forward<double>(const double*, const double*, const ConvGeometry&, double*);
template void conv_input_grad<float>(const float*, const float*, const ConvGeometry&, float*);
template void conv_input_grad<double>(const double*, const double*, const ConvGeometry&, double*);
template void conv_kernel_grad<float>(const float*, const float*, const ConvGeometry&, float*);
template void conv_kernel_grad<double>(const double*, const double*, const ConvGeometry&, double*);

}  // namespace tg::kernels
