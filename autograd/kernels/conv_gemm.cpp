#include "autograd/kernels/conv_gemm.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "autograd/kernels/amx_conv.h"
#include "autograd/kernels/conv_special.h"
#include "autograd/kernels/gemm.h"
#include "autograd/kernels/tiled_gemm.h"
#include "autograd/kernels/winograd.h"
#include "autograd/parallel.h"
#include "autograd/tensor.h"

namespace tg::kernels {

namespace {
// Forward tiles: about 1 MB of float32 patches, so a tile's im2col output is still in L2 when its GEMM reads it,
// but at least 256 GEMM rows, so that packing a large kernel is paid for by enough rows.
constexpr int64_t kTilePatchElements = int64_t(1) << 18;
constexpr int64_t kMinTileRows = 256;
// Backward passes: one shared workspace of 8 MB of float32 patches, filled and consumed chunk by chunk.
constexpr int64_t kChunkPatchElements = int64_t(1) << 21;

int64_t lines_for(const ConvGeometry& g, int64_t elements, int64_t min_rows) {
  const int64_t per_line = std::max<int64_t>(g.out_w * g.patch(), 1);
  const int64_t lines = std::max(elements / per_line, (min_rows + g.out_w - 1) / std::max<int64_t>(g.out_w, 1));
  return std::clamp<int64_t>(lines, 1, std::max<int64_t>(g.lines(), 1));
}

// float64 (gradcheck's precision): im2col into a bounded workspace, then Eigen's GEMM per tile.
template <class T>
void conv_forward_im2col(const T* x, const T* w, const ConvGeometry& g, T* y) {
  const int64_t k = g.patch(), n = g.out_c, lines = g.lines();
  if (g.pointwise()) {
    gemm_tiled(false, false, lines * g.out_w, n, k, T(1), x, k, w, n, T(0), y, n);
    return;
  }
  // Each task is one row tile times one column block of the output. Tasks of the same row tile are consecutive,
  // so a thread that gets several of them converts the tile once. No barrier between im2col and GEMM.
  const int64_t step = lines_for(g, kTilePatchElements, kMinTileRows), tn = gemm_tile_cols(n);
  const int64_t col_blocks = (n + tn - 1) / tn, tasks = (lines + step - 1) / step * col_blocks;
  const int64_t tile_elements = step * g.out_w * k;
  const int slots = omp_in_parallel() ? 1 : omp_get_max_threads();
  Tensor workspace({slots * tile_elements}, dtype_of<T>());
#pragma omp parallel num_threads(slots) if (tasks > 1 && slots > 1)
  {
    serial_eigen_in_this_region();
    T* cols = workspace.data<T>() + omp_get_thread_num() * tile_elements;
    int64_t converted = -1;  // the row tile now in cols
#pragma omp for schedule(dynamic)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t tile = t / col_blocks, j0 = (t % col_blocks) * tn, nj = std::min(tn, n - j0);
      const int64_t l0 = tile * step, l1 = std::min(lines, l0 + step), m = (l1 - l0) * g.out_w;
      if (tile != converted) {
        im2col(x, g, l0, l1, cols);
        converted = tile;
      }
      gemm(false, false, m, nj, k, T(1), cols, k, w + j0, n, T(0), y + l0 * g.out_w * n + j0, n);
    }
  }
}

}  // namespace

template <class T>
void conv_forward(const T* x, const T* w, const ConvGeometry& g, T* y) {
  if constexpr (std::is_same_v<T, float>) conv_forward(x, w, g, y, GemmEpilogue{});
  else conv_forward_im2col(x, w, g, y);
}

template <class T>
void conv_forward(const T* x, const T* w, const ConvGeometry& g, T* y, const T* bias, bool relu) {
  if constexpr (std::is_same_v<T, float>) {
    conv_forward(x, w, g, y, GemmEpilogue{false, bias, relu});
  } else {
    conv_forward_im2col(x, w, g, y);
    if (!bias && !relu) return;
    const int64_t rows = g.lines() * g.out_w, cols = g.out_c;
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
      T* row = y + r * cols;
      for (int64_t j = 0; j < cols; ++j) {
        T v = row[j];
        if (bias) v = v + bias[j];
        if (relu) v = v < 0 ? T(0) : v;
        row[j] = v;
      }
    }
  }
}

template <class T>
void conv_input_grad(const T* dy, const T* w, const ConvGeometry& g, T* dx) {
  const int64_t k = g.patch(), n = g.out_c;
  if constexpr (std::is_same_v<T, float>)
    if (pointwise_few_outputs_applies(g)) return pointwise_few_input_grad(active_isa(), dy, w, g, dx);
  if (g.pointwise()) {
    gemm_tiled(false, true, g.lines() * g.out_w, k, n, T(1), dy, n, w, n, T(0), dx, k);
    return;
  }
  if (g.stride_h == 1 && g.stride_w == 1) {
    // At stride 1 the input gradient is itself a convolution of dy, with the kernel rotated by 180 degrees and
    // its channel axes swapped: one im2col and a GEMM with the long K, instead of a GEMM with K = Cout that
    // writes every patch and a col2im that adds them up.
    const int64_t kh = g.kernel_h, kw = g.kernel_w, ci = g.in_c, taps = kh * kw;
    ConvGeometry back = g;
    back.in_h = g.out_h, back.in_w = g.out_w, back.in_c = n;
    back.out_h = g.in_h, back.out_w = g.in_w, back.out_c = ci;
    back.pad_top = (kh - 1) * g.dilation_h - g.pad_top;
    back.pad_left = (kw - 1) * g.dilation_w - g.pad_left;
    // The Winograd forward reads the rotation in place, as it transforms the kernel (the copy below cost as much as
    // the products on the 16x16 layers of 1024 channels).
    if constexpr (std::is_same_v<T, float>)
      if (!use_amx_bf16(back) && !direct_3x3_forward_applies(active_isa(), back) &&
          use_winograd(back, WinogradPass::forward))
        return winograd_conv_input_grad(active_sgemm_ukernel(), dy, w, back, dx);
    Tensor rotated = Tensor::empty({kh, kw, n, ci}, dtype_of<T>());
    T* r = rotated.data<T>();
    // Tap t of the rotated kernel is the [ci, n] matrix of tap taps-1-t, transposed; in 32x32 blocks.
    constexpr int64_t kBlock = 32;
    const int64_t o_blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (taps * n * ci > kParallelThreshold)
    for (int64_t tb = 0; tb < taps * o_blocks; ++tb) {
      const int64_t t = tb / o_blocks, o0 = (tb % o_blocks) * kBlock, o1 = std::min(n, o0 + kBlock);
      const T* src = w + (taps - 1 - t) * ci * n;
      T* dst = r + t * n * ci;
      for (int64_t c0 = 0; c0 < ci; c0 += kBlock)
        for (int64_t o = o0; o < o1; ++o)
          for (int64_t c = c0; c < std::min(ci, c0 + kBlock); ++c) dst[o * ci + c] = src[c * n + o];
    }
    conv_forward(dy, r, back, dx);
    return;
  }
  std::memset(dx, 0, sizeof(T) * static_cast<size_t>(g.batch * g.in_h * g.in_w * g.in_c));
  const int64_t step = lines_for(g, kChunkPatchElements, 1);
  Tensor workspace({step * g.out_w * k}, dtype_of<T>());
  T* cols = workspace.data<T>();
  for (int64_t l0 = 0; l0 < g.lines(); l0 += step) {
    const int64_t l1 = std::min(g.lines(), l0 + step), m = (l1 - l0) * g.out_w;
    gemm_tiled(false, true, m, k, n, T(1), dy + l0 * g.out_w * n, n, w, n, T(0), cols, k);
    col2im_add(cols, g, l0, l1, dx);
  }
}

namespace {
template <class T>
void conv_kernel_grad_im2col(const T* x, const T* dy, const ConvGeometry& g, T* dw) {
  const int64_t k = g.patch(), n = g.out_c, lines = g.lines();
  if (g.pointwise()) {
    gemm_tiled(true, false, k, n, lines * g.out_w, T(1), x, k, dy, n, T(0), dw, n);
    return;
  }
  if (lines == 0) {
    std::memset(dw, 0, sizeof(T) * static_cast<size_t>(k * n));
    return;
  }
  const int64_t step = lines_for(g, kTilePatchElements, kMinTileRows), tiles = (lines + step - 1) / step;
  const int64_t groups = std::min({tiles, kMaxPartialSums, kPartialSumElements / std::max<int64_t>(k * n, 1)});
  if (groups >= 4) {
    // A small kernel: fixed groups of row tiles each sum into their own copy of dw (im2col and GEMM on an
    // L2-sized tile per thread, no barrier), then the copies are added in group order.
    const int64_t tile_elements = step * g.out_w * k;
    const int slots = omp_in_parallel() ? 1 : omp_get_max_threads();
    Tensor workspace({slots * tile_elements}, dtype_of<T>());
    Tensor partial({groups, k * n}, dtype_of<T>());
#pragma omp parallel num_threads(slots) if (slots > 1)
    {
      serial_eigen_in_this_region();
      T* cols = workspace.data<T>() + omp_get_thread_num() * tile_elements;
#pragma omp for schedule(dynamic)
      for (int64_t group = 0; group < groups; ++group) {
        T* sum = partial.data<T>() + group * k * n;
        for (int64_t tile = tiles * group / groups; tile < tiles * (group + 1) / groups; ++tile) {
          const int64_t l0 = tile * step, l1 = std::min(lines, l0 + step), m = (l1 - l0) * g.out_w;
          im2col(x, g, l0, l1, cols);
          gemm(true, false, k, n, m, T(1), cols, k, dy + l0 * g.out_w * n, n, T(1), sum, n);
        }
      }
    }
    const T* p = partial.data<T>();
    const int64_t size = k * n;
#pragma omp parallel for schedule(static) if (size * groups > kParallelThreshold && slots > 1)
    for (int64_t i = 0; i < size; ++i) {
      T total = 0;
      for (int64_t group = 0; group < groups; ++group) total += p[group * size + i];
      dw[i] = total;
    }
    return;
  }
  // A large kernel: shared chunks, each converted in parallel, then the GEMM tiled over dw's rows.
  const int64_t chunk = lines_for(g, kChunkPatchElements, 1);
  Tensor workspace({chunk * g.out_w * k}, dtype_of<T>());
  T* cols = workspace.data<T>();
  for (int64_t l0 = 0; l0 < lines; l0 += chunk) {
    const int64_t l1 = std::min(lines, l0 + chunk), m = (l1 - l0) * g.out_w;
    im2col(x, g, l0, l1, cols);
    // Chunks add into dw in a fixed order, so the sum does not depend on the thread count.
    gemm_tiled(true, false, k, n, m, T(1), cols, k, dy + l0 * g.out_w * n, n, l0 == 0 ? T(0) : T(1), dw, n);
  }
}

}  // namespace

template <class T>
void conv_kernel_grad(const T* x, const T* dy, const ConvGeometry& g, T* dw) {
  if constexpr (std::is_same_v<T, float>) conv_kernel_grad(x, dy, g, dw, GemmEpilogue{});
  else conv_kernel_grad_im2col(x, dy, g, dw);
}

template void conv_forward<float>(const float*, const float*, const ConvGeometry&, float*);
template void conv_forward<double>(const double*, const double*, const ConvGeometry&, double*);
template void conv_forward<float>(const float*, const float*, const ConvGeometry&, float*, const float*, bool);
template void conv_forward<double>(const double*, const double*, const ConvGeometry&, double*, const double*, bool);
template void conv_input_grad<float>(const float*, const float*, const ConvGeometry&, float*);
template void conv_input_grad<double>(const double*, const double*, const ConvGeometry&, double*);
template void conv_kernel_grad<float>(const float*, const float*, const ConvGeometry&, float*);
template void conv_kernel_grad<double>(const double*, const double*, const ConvGeometry&, double*);

}  // namespace tg::kernels
