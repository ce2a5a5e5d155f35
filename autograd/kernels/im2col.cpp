#include "autograd/kernels/im2col.h"

#include <omp.h>

#include <algorithm>

namespace tg::kernels {

namespace {
// Below this many patch elements a parallel region costs more than it saves. Inside a parallel region (the fused
// conv forward converts one tile per thread) the loops run in the calling thread.
constexpr int64_t kParallelElements = 1 << 15;
}  // namespace

template <class T>
void im2col(const T* x, const ConvGeometry& g, int64_t line_begin, int64_t line_end, T* cols) {
  const int64_t c = g.in_c, k = g.patch(), row_len = g.kernel_w * c;
  // With dilation 1 the kw taps of a kernel row are adjacent pixels: one copy when all are inside the image.
  const bool contiguous_taps = g.dilation_w == 1;
  const bool parallel = (line_end - line_begin) * g.out_w * k > kParallelElements && !omp_in_parallel();
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t line = line_begin; line < line_end; ++line) {
    const int64_t n = line / g.out_h, oy = line % g.out_h;
    const T* image = x + n * g.in_h * g.in_w * c;
    T* row = cols + (line - line_begin) * g.out_w * k;
    for (int64_t ox = 0; ox < g.out_w; ++ox, row += k) {
      const int64_t ix0 = ox * g.stride_w - g.pad_left;
      const bool inside_w = ix0 >= 0 && ix0 + (g.kernel_w - 1) * g.dilation_w < g.in_w;
      for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
        const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
        T* dst = row + ky * row_len;
        if (iy < 0 || iy >= g.in_h) {
          std::fill(dst, dst + row_len, T(0));
          continue;
        }
        const T* src_row = image + iy * g.in_w * c;
        if (contiguous_taps && inside_w) {
          std::copy_n(src_row + ix0 * c, row_len, dst);
          continue;
        }
        for (int64_t kx = 0; kx < g.kernel_w; ++kx, dst += c) {
          const int64_t ix = ix0 + kx * g.dilation_w;
          if (ix < 0 || ix >= g.in_w) std::fill(dst, dst + c, T(0));
          else std::copy_n(src_row + ix * c, c, dst);
        }
      }
    }
  }
}

template <class T>
void col2im_add(const T* cols, const ConvGeometry& g, int64_t line_begin, int64_t line_end, T* dx) {
  if (line_begin >= line_end) return;
  const int64_t c = g.in_c, k = g.patch();
  // Input rows these lines read, as global row ids n * in_h + iy. Rows in between that no line reads (past the
  // last row a valid conv uses) are skipped by the checks below.
  const int64_t first_oy = line_begin % g.out_h, last_oy = (line_end - 1) % g.out_h;
  const int64_t row_begin =
      (line_begin / g.out_h) * g.in_h + std::max<int64_t>(first_oy * g.stride_h - g.pad_top, 0);
  const int64_t row_end =
      ((line_end - 1) / g.out_h) * g.in_h +
      std::min<int64_t>(last_oy * g.stride_h - g.pad_top + (g.kernel_h - 1) * g.dilation_h + 1, g.in_h);
  const bool parallel = (line_end - line_begin) * g.out_w * k > kParallelElements && !omp_in_parallel();
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t r = row_begin; r < row_end; ++r) {
    const int64_t n = r / g.in_h, iy = r % g.in_h;
    T* dst_row = dx + r * g.in_w * c;
    for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
      const int64_t t = iy + g.pad_top - ky * g.dilation_h;
      if (t < 0 || t % g.stride_h != 0 || t / g.stride_h >= g.out_h) continue;
      const int64_t line = n * g.out_h + t / g.stride_h;
      if (line < line_begin || line >= line_end) continue;
      const T* src_line = cols + (line - line_begin) * g.out_w * k + ky * g.kernel_w * c;
      for (int64_t ox = 0; ox < g.out_w; ++ox) {
        const int64_t ix0 = ox * g.stride_w - g.pad_left;
        const T* src = src_line + ox * k;
        for (int64_t kx = 0; kx < g.kernel_w; ++kx, src += c) {
          const int64_t ix = ix0 + kx * g.dilation_w;
          if (ix < 0 || ix >= g.in_w) continue;
          T* dst = dst_row + ix * c;
#pragma omp simd
          for (int64_t ci = 0; ci < c; ++ci) dst[ci] += src[ci];
        }
      }
    }
  }
}

template void im2col<float>(const float*, const ConvGeometry&, int64_t, int64_t, float*);
template void im2col<double>(const double*, const ConvGeometry&, int64_t, int64_t, double*);
template void col2im_add<float>(const float*, const ConvGeometry&, int64_t, int64_t, float*);
template void col2im_add<double>(const double*, const ConvGeometry&, int64_t, int64_t, double*);

}  // namespace tg::kernels
