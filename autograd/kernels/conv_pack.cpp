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

void pack_conv_patches_transposed(const SgemmUkernel& uk, const float* x, const ConvGeometry& g, int64_t q0,
                                  int64_t rows, int64_t p0, int64_t kc, float* dst) {
  const int64_t mr = uk.mr, c = g.in_c, panels = (rows + mr - 1) / mr;
  // The block's rows are patch entries q0 .. q0 + rows: runs of adjacent channels of one tap. Cut them once into
  // segments that lie in one tap and one panel; per pixel each segment is then one short copy (or zero fill).
  struct Segment {
    int64_t offset, length, tap, channel;  // offset in the pixel's packed column: panel * kc * mr + row in panel
  };
  Segment segments[2 * kMaxPatchRows];
  int64_t count = 0;
  for (int64_t r = 0; r < rows;) {
    const int64_t q = q0 + r, length = std::min({c - q % c, mr - r % mr, rows - r});
    segments[count++] = {(r / mr) * kc * mr + r % mr, length, q / c - q0 / c, q % c};
    r += length;
  }
  const int64_t first_tap = q0 / c, taps = (q0 + rows - 1) / c - first_tap + 1;
  thread_local std::vector<const float*> source;  // per tap of the block: the input pixel it reads, or null
  source.resize(static_cast<size_t>(taps));
  if (rows % mr)  // the last panel's padding rows stay zero
    for (int64_t kk = 0; kk < kc; ++kk) std::fill_n(dst + (panels - 1) * kc * mr + kk * mr + rows % mr, mr - rows % mr, 0.0f);
  Pixel px = pixel_of(g, p0);
  for (int64_t kk = 0; kk < kc; ++kk) {
    const float* image = x + px.n * g.in_h * g.in_w * c;
    for (int64_t t = 0; t < taps; ++t) {
      const int64_t tap = first_tap + t;
      const int64_t iy = px.oy * g.stride_h - g.pad_top + (tap / g.kernel_w) * g.dilation_h;
      const int64_t ix = px.ox * g.stride_w - g.pad_left + (tap % g.kernel_w) * g.dilation_w;
      source[t] = iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w ? nullptr : image + (iy * g.in_w + ix) * c;
    }
    float* column = dst + kk * mr;
    for (int64_t i = 0; i < count; ++i) {
      const Segment& s = segments[i];
      float* d = column + s.offset;
      // Plain loops: a segment is at most mr floats, too short for a library call to pay.
      if (const float* src = source[s.tap]) {
        src += s.channel;
        for (int64_t l = 0; l < s.length; ++l) d[l] = src[l];
      } else {
        for (int64_t l = 0; l < s.length; ++l) d[l] = 0.0f;
      }
    }
    if (++px.ox == g.out_w) {  // next pixel: along the row, then the next line
      px.ox = 0;
      if (++px.oy == g.out_h) px.oy = 0, ++px.n;
    }
  }
}

}  // namespace tg::kernels
