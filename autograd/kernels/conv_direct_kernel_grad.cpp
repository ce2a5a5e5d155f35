// The kernel gradient of a 3x3 stride-1 convolution of few channels (the full-resolution layers of a U-Net, and its
// 1-channel first layer), straight from the NHWC rows: dw[ky, kx, ci, co] = sum over output pixels of
// x[pixel shifted by the tap, ci] * dy[pixel, co]. A register tile is 16 output channels (two Float8 of one dy pixel)
// times the 3 taps of one kernel row times 2 input channels: per pixel 2 loads of dy, 6 broadcasts of x and 12 FMAs,
// with no row tables and no packing. The input row under each output line and kernel row is copied once, zero-padded,
// so no tap needs a bounds check; dy is read in place (copied per line only when its channels are not a multiple
// of 16).
//
// On AVX-512, for 16 or 32 input channels and output channels in multiples of 8, the tile turns around: 16 input
// channels in the lanes (one vector load of the padded row per tap column) times 3 taps times 8 output channels, each
// dy value broadcast once and used by the 3 taps: per pixel 3 loads, 8 broadcasts and 24 FMAs of 16 lanes, against
// the AVX2 tile's 8 loads per 12 FMAs of 8 lanes. Its sums are kept [tap, co, ci] and turned around when the groups
// are added. Each value still adds its pixels in order, so the two paths differ only by FMA rounding.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12, inside avx512fintrin.h (as sgemm/f32_gemm__avx512f.cpp)
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "autograd/kernels/conv_special.h"
#include "autograd/kernels/float8.h"
#include "autograd/parallel.h"

namespace tg::kernels {

namespace {
constexpr int64_t kChannelBlock = 16;  // output channels per tile: two Float8

// What one kernel row contributes from one output line: sums [3, cin, channels16] (+)= the products of the padded
// input row xrow [out_w + 2, cin] and the line's dy [out_w, ld]. Each value adds its pixels in order.
struct RowProducts {
  const float* xrow;
  int64_t cin;
  const float* dy;
  int64_t ld, out_w, channels16;
  float* sums;
};

template <int64_t kInputs>
inline __attribute__((always_inline)) void row_tile(const RowProducts& r, int64_t ci, int64_t j0) {
  // Locals, not reads through r: the compiler could not keep those in registers across the stores to sums.
  const int64_t cin = r.cin, ld = r.ld, out_w = r.out_w;
  const float* const dy = r.dy + j0;
  const float* const xrow = r.xrow + ci;
  float* const sums = r.sums + ci * r.channels16 + j0;
  const int64_t tap_stride = cin * r.channels16;  // from one kx to the next in sums
  auto sum_at = [&](int64_t c, int64_t kx, int64_t h) {
    return sums + kx * tap_stride + c * r.channels16 + h * kFloat8Lanes;
  };
  Float8 acc[kInputs][3][2];
  for (int64_t c = 0; c < kInputs; ++c)
    for (int64_t kx = 0; kx < 3; ++kx)
      for (int64_t h = 0; h < 2; ++h) load8(acc[c][kx][h], sum_at(c, kx, h));
  for (int64_t ox = 0; ox < out_w; ++ox) {
    Float8 d0, d1;
    load8(d0, dy + ox * ld), load8(d1, dy + ox * ld + kFloat8Lanes);
    const float* in = xrow + ox * cin;
    for (int64_t c = 0; c < kInputs; ++c)
      for (int64_t kx = 0; kx < 3; ++kx) {
        acc[c][kx][0] += in[kx * cin + c] * d0;  // a scalar times a vector: broadcast straight from memory
        acc[c][kx][1] += in[kx * cin + c] * d1;
      }
  }
  for (int64_t c = 0; c < kInputs; ++c)
    for (int64_t kx = 0; kx < 3; ++kx)
      for (int64_t h = 0; h < 2; ++h) store8(sum_at(c, kx, h), acc[c][kx][h]);
}

template <int64_t kInputs>
inline __attribute__((always_inline)) void row_products(const RowProducts& r) {
  for (int64_t j0 = 0; j0 < r.channels16; j0 += kChannelBlock) {
    int64_t ci = 0;
    for (; ci + kInputs <= r.cin; ci += kInputs) row_tile<kInputs>(r, ci, j0);
    for (; ci < r.cin; ++ci) row_tile<1>(r, ci, j0);
  }
}

// 2 input channels: 12 accumulators, 2 of dy and a broadcast in AVX2's 16 registers; the portable build holds a
// Float8 in two SSE registers and takes one. (OpenMP stays in the caller: a parallel region is outlined before
// inlining, into a function without the target attribute.)
TG_AVX2_FMA void row_products_avx2(const RowProducts& r) { row_products<2>(r); }
void row_products_generic(const RowProducts& r) { row_products<1>(r); }
// The AVX-512 tile: sums [3 kx][8 co][16 ci] at sums (row stride cin between output channels, 8 * cin between taps)
// (+)= the products of the padded row xrow [out_w + 2, cin] (from channel ci0) and the line's dy [out_w, ld] (from
// channel co0).
constexpr int64_t kLanes16 = 16, kOutputs8 = 8;
__attribute__((target("avx512f"))) void row_tile_avx512(const float* xrow, int64_t cin, const float* dy, int64_t ld,
                                                        int64_t out_w, float* sums) {
  __m512 acc[3][kOutputs8];
  const int64_t tap_stride = kOutputs8 * cin;
#pragma GCC unroll 3
  for (int kx = 0; kx < 3; ++kx)
#pragma GCC unroll 8
    for (int co = 0; co < kOutputs8; ++co) acc[kx][co] = _mm512_loadu_ps(sums + kx * tap_stride + co * cin);
  for (int64_t ox = 0; ox < out_w; ++ox) {
    const float* in = xrow + ox * cin;
    const __m512 x0 = _mm512_loadu_ps(in), x1 = _mm512_loadu_ps(in + cin), x2 = _mm512_loadu_ps(in + 2 * cin);
    const float* d = dy + ox * ld;
#pragma GCC unroll 8
    for (int co = 0; co < kOutputs8; ++co) {
      const __m512 v = _mm512_set1_ps(d[co]);
      acc[0][co] = _mm512_fmadd_ps(x0, v, acc[0][co]);
      acc[1][co] = _mm512_fmadd_ps(x1, v, acc[1][co]);
      acc[2][co] = _mm512_fmadd_ps(x2, v, acc[2][co]);
    }
  }
#pragma GCC unroll 3
  for (int kx = 0; kx < 3; ++kx)
#pragma GCC unroll 8
    for (int co = 0; co < kOutputs8; ++co) _mm512_storeu_ps(sums + kx * tap_stride + co * cin, acc[kx][co]);
}

// One kernel row's products from one output line, [3 kx][cout][cin] at sums.
void row_products_avx512(const RowProducts& r) {
  const int64_t cin = r.cin, cout = r.channels16;  // here cout itself, a multiple of 8 (no padding)
  for (int64_t co0 = 0; co0 < cout; co0 += kOutputs8)
    for (int64_t ci0 = 0; ci0 < cin; ci0 += kLanes16)
      row_tile_avx512(r.xrow + ci0, cin, r.dy + co0, r.ld, r.out_w, r.sums + co0 * 3 * cin + ci0);
}

bool avx512_tile_fits(Isa isa, const ConvGeometry& g) {
  return isa == Isa::avx512 && g.in_c % kLanes16 == 0 && g.out_c % kOutputs8 == 0;
}
}  // namespace

bool direct_kernel_grad_applies(const ConvGeometry& g) {
  return g.kernel_h == 3 && g.kernel_w == 3 && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 &&
         g.dilation_w == 1 && g.in_c <= kDirectKernelGradMaxInputs && g.out_c <= kDirectKernelGradMaxOutputs;
}

void direct_kernel_grad(Isa isa, const float* x, const float* dy, const ConvGeometry& g, float* dw,
                        const GemmEpilogue& epilogue) {
  const int64_t cin = g.in_c, cout = g.out_c, lines = g.lines(), row_floats = (g.out_w + 2) * cin;
  const bool avx512 = avx512_tile_fits(isa, g);
  // The output channels a tile row holds: padded to 16 for the Float8 tiles, exact for the AVX-512 one.
  const int64_t channels16 = avx512 ? cout : (cout + kChannelBlock - 1) / kChannelBlock * kChannelBlock;
  const int64_t size = 9 * cin * channels16, groups = kernel_grad_groups(g, 9 * cin * cout);
  const bool copy_dy = cout != channels16;
  void (*const products)(const RowProducts&) =
      avx512 ? row_products_avx512 : avx2_kernels(isa) ? row_products_avx2 : row_products_generic;
  std::vector<float> partial(static_cast<size_t>(groups * size));
#pragma omp parallel for schedule(dynamic) if (groups > 1)
  for (int64_t group = 0; group < groups; ++group) {
    float* sums = partial.data() + group * size;
    std::fill(sums, sums + size, 0.0f);
    float* xrow = thread_pack_buffer(0, row_floats);
    float* dy_copy = copy_dy ? thread_pack_buffer(1, g.out_w * channels16) : nullptr;
    for (int64_t line = lines * group / groups; line < lines * (group + 1) / groups; ++line) {
      const int64_t image = line / g.out_h, oy = line % g.out_h;
      const float* dy_line = dy + line * g.out_w * cout;
      if (copy_dy) {
        std::fill(dy_copy, dy_copy + g.out_w * channels16, 0.0f);
        for (int64_t ox = 0; ox < g.out_w; ++ox) std::copy_n(dy_line + ox * cout, cout, dy_copy + ox * channels16);
        dy_line = dy_copy;
      }
      for (int64_t ky = 0; ky < 3; ++ky) {
        const int64_t iy = oy - g.pad_top + ky;
        if (iy < 0 || iy >= g.in_h) continue;  // a padding row: its products are zero
        // Column c of xrow is input column c - pad_left, zero outside the image.
        const int64_t c0 = std::clamp<int64_t>(g.pad_left, 0, g.out_w + 2);
        const int64_t c1 = std::clamp<int64_t>(g.in_w + g.pad_left, c0, g.out_w + 2);
        std::fill(xrow, xrow + c0 * cin, 0.0f);
        std::copy_n(x + ((image * g.in_h + iy) * g.in_w + c0 - g.pad_left) * cin, (c1 - c0) * cin, xrow + c0 * cin);
        std::fill(xrow + c1 * cin, xrow + row_floats, 0.0f);
        const int64_t ld = copy_dy ? channels16 : cout;
        products({xrow, cin, dy_line, ld, g.out_w, channels16, sums + ky * 3 * cin * channels16});
      }
    }
  }
  if (!avx512) return add_group_sums(partial.data(), groups, 9 * cin, cout, channels16, dw, epilogue.accumulate);
  // The AVX-512 sums are [ky][co / 8][kx][co % 8][ci]: added in group order into dw [ky][kx][ci][co].
#pragma omp parallel for schedule(static) if (size * groups > kParallelThreshold)
  for (int64_t row = 0; row < 9 * cin; ++row) {
    const int64_t tap = row / cin, ci = row % cin, ky = tap / 3, kx = tap % 3;
    float* out = dw + row * cout;
    for (int64_t co = 0; co < cout; ++co) {
      const int64_t at = ((ky * (cout / kOutputs8) + co / kOutputs8) * 3 + kx) * kOutputs8 * cin + co % kOutputs8 * cin + ci;
      float total = 0;
      for (int64_t group = 0; group < groups; ++group) total += partial[static_cast<size_t>(group * size + at)];
      out[co] = epilogue.accumulate ? out[co] + total : total;
    }
  }
}

}  // namespace tg::kernels
