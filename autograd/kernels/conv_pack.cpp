#include "autograd/kernels/conv_pack.h"

#include <algorithm>
#include <vector>

namespace tg::kernels {

namespace {
struct Pixel {
  int64_t n, oy, ox;
};
Pixel pixel_of(const ConvGeometry& g, int64_t p) {
  const int64_t line = p / g.out_w;
  return {line / g.out_h, line % g.out_h, p % g.out_w};
}
}  // namespace

void pack_conv_patches(const SgemmUkernel& uk, const float* x, const ConvGeometry& g, int64_t i0, int64_t rows,
                       int64_t k0, int64_t kc, float* dst) {
  const int64_t mr = uk.mr, c = g.in_c;
  for (int64_t p0 = 0; p0 < rows; p0 += mr, dst += kc * mr) {
    const int64_t live = std::min(mr, rows - p0);
    if (live < mr) std::fill(dst, dst + kc * mr, 0.0f);
    for (int64_t r = 0; r < live; ++r) {
      const Pixel px = pixel_of(g, i0 + p0 + r);
      const float* image = x + px.n * g.in_h * g.in_w * c;
      // Walk the patch from entry k0, one tap (c adjacent channels of one input pixel) at a time.
      int64_t tap = k0 / c, ci = k0 % c;
      for (int64_t kk = 0; kk < kc; ++tap, ci = 0) {
        const int64_t len = std::min(c - ci, kc - kk);
        const int64_t iy = px.oy * g.stride_h - g.pad_top + (tap / g.kernel_w) * g.dilation_h;
        const int64_t ix = px.ox * g.stride_w - g.pad_left + (tap % g.kernel_w) * g.dilation_w;
        float* d = dst + kk * mr + r;
        if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) {
          for (int64_t t = 0; t < len; ++t) d[t * mr] = 0.0f;
        } else {
          const float* src = image + (iy * g.in_w + ix) * c + ci;
          for (int64_t t = 0; t < len; ++t) d[t * mr] = src[t];
        }
        kk += len;
      }
    }
  }
}

void pack_conv_patches_transposed(const SgemmUkernel& uk, const float* x, const ConvGeometry& g, int64_t q0,
                                  int64_t rows, int64_t p0, int64_t kc, float* dst) {
  const int64_t mr = uk.mr, c = g.in_c;
  // Each packed row is one patch entry: its tap and channel, looked up per pixel below.
  int64_t tap_of[kMaxPatchRows], channel_of[kMaxPatchRows];
  for (int64_t r = 0; r < rows; ++r) tap_of[r] = (q0 + r) / c - q0 / c, channel_of[r] = (q0 + r) % c;
  const int64_t first_tap = q0 / c, taps = tap_of[rows - 1] + 1;
  thread_local std::vector<const float*> source;  // per tap of the block: the input pixel it reads, or null
  source.resize(static_cast<size_t>(taps));
  const int64_t panels = (rows + mr - 1) / mr;
  Pixel px = pixel_of(g, p0);
  for (int64_t kk = 0; kk < kc; ++kk) {
    const float* image = x + px.n * g.in_h * g.in_w * c;
    for (int64_t t = 0; t < taps; ++t) {
      const int64_t tap = first_tap + t;
      const int64_t iy = px.oy * g.stride_h - g.pad_top + (tap / g.kernel_w) * g.dilation_h;
      const int64_t ix = px.ox * g.stride_w - g.pad_left + (tap % g.kernel_w) * g.dilation_w;
      source[t] = iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w ? nullptr : image + (iy * g.in_w + ix) * c;
    }
    for (int64_t panel = 0; panel < panels; ++panel) {
      float* d = dst + panel * kc * mr + kk * mr;
      const int64_t r0 = panel * mr, live = std::min(mr, rows - r0);
      for (int64_t r = 0; r < live; ++r) {
        const float* s = source[tap_of[r0 + r]];
        d[r] = s ? s[channel_of[r0 + r]] : 0.0f;
      }
      for (int64_t r = live; r < mr; ++r) d[r] = 0.0f;
    }
    if (++px.ox == g.out_w) {  // next pixel: along the row, then the next line
      px.ox = 0;
      if (++px.oy == g.out_h) px.oy = 0, ++px.n;
    }
  }
}

}  // namespace tg::kernels
