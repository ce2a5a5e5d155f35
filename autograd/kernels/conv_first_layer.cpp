// The forward pass of a 1-channel convolution (the first layer of a network on grey images): K = kh * kw taps per
// output value, so the GEMM kernels' 6x16 tile would do 9 multiply-adds per load of 12 accumulators. Here a block of
// output pixels times 16 output channels stays in registers for all the taps, and the input is read from a
// zero-padded copy of the kh input rows under one output line (kept per thread), so no tap needs a bounds check.
#include <algorithm>
#include <vector>

#include "autograd/kernels/conv_special.h"
#include "autograd/kernels/float8.h"
#include "autograd/parallel.h"

namespace tg::kernels {

namespace {
constexpr int64_t kChannelBlock = 16;  // output channels per register tile: two Float8

// The kh input rows under output line `line`, zero-padded: column c is input column c - pad_left; the row is
// `stride` floats long, room for a last block of pixels that overhangs the line.
void padded_rows(const float* x, const ConvGeometry& g, int64_t line, int64_t stride, float* rows) {
  const int64_t image = line / g.out_h, oy = line % g.out_h;
  std::fill(rows, rows + g.kernel_h * stride, 0.0f);
  for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
    const int64_t iy = oy - g.pad_top + ky;
    if (iy < 0 || iy >= g.in_h) continue;
    const float* src = x + (image * g.in_h + iy) * g.in_w;
    for (int64_t c = std::max<int64_t>(0, g.pad_left); c < std::min(stride, g.in_w + g.pad_left); ++c)
      rows[ky * stride + c] = src[c - g.pad_left];
  }
}

// One output line: blocks of kPixels pixels times 16 channels, each summed over the taps in order (ky, kx).
// w16 is the kernel [taps, channels16], zero-padded to whole blocks of 16 channels.
// The sums of kPixels pixels x 16 channels over the taps in order (ky, kx), into tile [kPixels, 16]. Kept apart
// from the stores (store_tile) so that the accumulators stay in registers.
template <int64_t kPixels>
inline __attribute__((always_inline)) void first_layer_tile(const float* in, int64_t stride, const float* w,
                                                             int64_t channels16, int64_t kernel_h, int64_t kernel_w,
                                                             float* tile) {
  Float8 acc[kPixels][2];
#pragma GCC unroll 16
  for (int64_t p = 0; p < kPixels; ++p) acc[p][0] = acc[p][1] = Float8{};
  for (int64_t ky = 0; ky < kernel_h; ++ky, in += stride)
    for (int64_t kx = 0; kx < kernel_w; ++kx, w += channels16) {
      Float8 w0, w1;
      load8(w0, w), load8(w1, w + kFloat8Lanes);
#pragma GCC unroll 16
      for (int64_t p = 0; p < kPixels; ++p) {
        acc[p][0] += in[kx + p] * w0;  // a scalar times a vector: a broadcast straight from memory
        acc[p][1] += in[kx + p] * w1;
      }
    }
#pragma GCC unroll 16
  for (int64_t p = 0; p < kPixels; ++p) {
    store8(tile + p * kChannelBlock, acc[p][0]);
    store8(tile + p * kChannelBlock + kFloat8Lanes, acc[p][1]);
  }
}

// One output line: blocks of kPixels pixels times 16 channels. w16 is the kernel [taps, channels16], zero-padded
// to whole blocks of 16 channels.
template <int64_t kPixels>
inline __attribute__((always_inline)) void first_layer_line(const float* rows, int64_t stride, const float* w16,
                                                             int64_t channels16, const ConvGeometry& g, float* y,
                                                             const GemmEpilogue& e) {
  alignas(32) float tile[kPixels * kChannelBlock];
  for (int64_t j0 = 0; j0 < channels16; j0 += kChannelBlock) {
    const GemmEpilogue block_epilogue{e.accumulate, e.bias ? e.bias + j0 : nullptr, e.relu};
    for (int64_t ox = 0; ox < g.out_w; ox += kPixels) {
      first_layer_tile<kPixels>(rows + ox, stride, w16 + j0, channels16, g.kernel_h, g.kernel_w, tile);
      store_tile(tile, kChannelBlock, std::min(kPixels, g.out_w - ox), std::min(kChannelBlock, g.out_c - j0),
                 y + ox * g.out_c + j0, g.out_c, block_epilogue);
    }
  }
}

// 6 pixels x 2 vectors: 12 accumulators, 2 weights and a broadcast in AVX2's 16 registers. The portable build holds
// a Float8 in two SSE registers, so it takes 3 pixels. (OpenMP stays out of these: a parallel region is outlined
// before inlining, into a function without the target attribute.)
using LineKernel = void (*)(const float*, int64_t, const float*, int64_t, const ConvGeometry&, float*,
                            const GemmEpilogue&);
TG_AVX2_FMA void first_layer_line_avx2(const float* rows, int64_t stride, const float* w16, int64_t channels16,
                                       const ConvGeometry& g, float* y, const GemmEpilogue& e) {
  first_layer_line<6>(rows, stride, w16, channels16, g, y, e);
}
void first_layer_line_generic(const float* rows, int64_t stride, const float* w16, int64_t channels16,
                              const ConvGeometry& g, float* y, const GemmEpilogue& e) {
  first_layer_line<3>(rows, stride, w16, channels16, g, y, e);
}
constexpr int64_t kMaxPixels = 6;  // the larger block: rows are long enough for its overhang
}  // namespace

bool first_layer_forward_applies(const ConvGeometry& g) {
  return g.in_c == 1 && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 && g.dilation_w == 1;
}

void first_layer_forward(Isa isa, const float* x, const float* w, const ConvGeometry& g, float* y,
                         const GemmEpilogue& epilogue) {
  const int64_t taps = g.kernel_h * g.kernel_w;
  const int64_t channels16 = (g.out_c + kChannelBlock - 1) / kChannelBlock * kChannelBlock;
  std::vector<float> w16(static_cast<size_t>(taps * channels16), 0.0f);
  for (int64_t t = 0; t < taps; ++t) std::copy_n(w + t * g.out_c, g.out_c, w16.begin() + t * channels16);
  const LineKernel line_kernel = avx2_kernels(isa) ? first_layer_line_avx2 : first_layer_line_generic;
  const int64_t stride = g.out_w + g.kernel_w - 1 + kMaxPixels, lines = g.lines();
#pragma omp parallel for schedule(static) if (lines * g.out_w * g.out_c * taps > kParallelThreshold)
  for (int64_t line = 0; line < lines; ++line) {
    float* rows = thread_pack_buffer(0, g.kernel_h * stride);
    padded_rows(x, g, line, stride, rows);
    line_kernel(rows, stride, w16.data(), channels16, g, y + line * g.out_w * g.out_c, epilogue);
  }
}

}  // namespace tg::kernels
