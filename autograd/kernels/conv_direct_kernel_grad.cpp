// The kernel gradient of a 3x3 stride-1 convolution of few channels (the full-resolution layers of a U-Net, and its
// 1-channel first layer), straight from the NHWC rows: dw[ky, kx, ci, co] = sum over output pixels of
// x[pixel shifted by the tap, ci] * dy[pixel, co]. A register tile is 16 output channels (two Float8 of one dy pixel)
// times the 3 taps of one kernel row times 2 input channels: per pixel 2 loads of dy, 6 broadcasts of x and 12 FMAs,
// with no row tables and no packing. The input row under each output line and kernel row is copied once, zero-padded,
// so no tap needs a bounds check; dy is read in place (copied per line only when its channels are not a multiple
// of 16).
//
// On AVX-512, for input channels in multiples of 16 and output channels in multiples of 8 (up to 128 each), the tile
// turns around: 16 input channels in the lanes times 3 taps times 8 output channels, each dy value broadcast once
// and used by the 3 taps (per pixel 3 loads, 8 broadcasts and 24 FMAs of 16 lanes, against the AVX2 tile's 8 loads
// per 12 FMAs of 8 lanes), held in registers over many output lines and read from x and dy in place. Its sums are
// kept [tap, co, ci] and turned around when the groups are added. Each value still adds its pixels in order, so the
// two paths differ only by FMA rounding.
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h, as in sgemm/f32_gemm__avx512f.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
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

// The AVX-512 tile: dw for one kernel row ky, 16 input channels (ci0 ..) and 8 output channels (co0 ..), summed over
// the output lines [line0, line1) in registers, [3 kx][8 co][cin] at out (from channel ci0): started from zero when
// first, else from what out holds. Reads x and dy where they lie: a tap that falls in the padding multiplies a zero
// vector, as the Float8 tiles multiply their zero-padded row copy, so both add the same terms in the same order.
constexpr int64_t kLanes16 = 16, kOutputs8 = 8;
constexpr int64_t kMinKernelGradTasks = 8;  // so that two or more threads balance
// One output pixel's products: its dy values d[0 .. 8) times the 16 input channels under each tap, input column
// ix + kx (Inside: all three lie in the image; else the others read as zeros).
template <bool Inside>
__attribute__((target("avx512f"), always_inline)) inline void pixel_avx512(const float* xrow, const float* drow,
                                                                            int64_t ix, int64_t in_w, int64_t cin,
                                                                            int64_t d_at, __m512 (&acc)[3][kOutputs8]) {
  __m512 xv[3];
#pragma GCC unroll 3
  for (int kx = 0; kx < 3; ++kx)
    xv[kx] = Inside || (ix + kx >= 0 && ix + kx < in_w) ? _mm512_loadu_ps(xrow + (ix + kx) * cin) : _mm512_setzero_ps();
  const float* d = drow + d_at;
#pragma GCC unroll 8
  for (int co = 0; co < kOutputs8; ++co) {
    const __m512 v = _mm512_set1_ps(d[co]);
#pragma GCC unroll 3
    for (int kx = 0; kx < 3; ++kx) acc[kx][co] = _mm512_fmadd_ps(xv[kx], v, acc[kx][co]);
  }
}

__attribute__((target("avx512f"))) void lines_tile_avx512(const float* x, const float* dy, const ConvGeometry& g,
                                                          int64_t line0, int64_t line1, int64_t ky, int64_t ci0,
                                                          int64_t co0, bool first, float* out) {
  const int64_t cin = g.in_c, cout = g.out_c, in_w = g.in_w, out_w = g.out_w;
  __m512 acc[3][kOutputs8];
#pragma GCC unroll 3
  for (int kx = 0; kx < 3; ++kx)
#pragma GCC unroll 8
    for (int co = 0; co < kOutputs8; ++co)
      acc[kx][co] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(out + (kx * kOutputs8 + co) * cin);
  // Output columns [ox_lo, ox_hi) read all three taps inside the image; the others are the padding's few.
  const int64_t ox_lo = std::clamp<int64_t>(g.pad_left, 0, out_w);
  const int64_t ox_hi = std::clamp<int64_t>(in_w - 2 + g.pad_left, ox_lo, out_w);
  for (int64_t line = line0; line < line1; ++line) {
    const int64_t image = line / g.out_h, iy = line % g.out_h - g.pad_top + ky;
    if (iy < 0 || iy >= g.in_h) continue;  // a padding row: its products are zero
    const float* xrow = x + (image * g.in_h + iy) * in_w * cin + ci0;
    const float* drow = dy + line * out_w * cout + co0;
    const int64_t pad = g.pad_left;
    for (int64_t ox = 0; ox < ox_lo; ++ox) pixel_avx512<false>(xrow, drow, ox - pad, in_w, cin, ox * cout, acc);
    for (int64_t ox = ox_lo; ox < ox_hi; ++ox) pixel_avx512<true>(xrow, drow, ox - pad, in_w, cin, ox * cout, acc);
    for (int64_t ox = ox_hi; ox < out_w; ++ox) pixel_avx512<false>(xrow, drow, ox - pad, in_w, cin, ox * cout, acc);
  }
#pragma GCC unroll 3
  for (int kx = 0; kx < 3; ++kx)
#pragma GCC unroll 8
    for (int co = 0; co < kOutputs8; ++co) _mm512_storeu_ps(out + (kx * kOutputs8 + co) * cin, acc[kx][co]);
}

bool avx512_tile_fits(Isa isa, const ConvGeometry& g) {
  return isa == Isa::avx512 && g.in_c % kLanes16 == 0 && g.out_c % kOutputs8 == 0;
}

// The kernel gradient on the AVX-512 tile. Tasks are (group of lines, a range of 8-channel output blocks), each
// writing its own part of its group's sums [ky][co / 8][kx][co % 8][ci]; the groups are then added in order. A task
// walks its lines in chunks whose input stays in L2 while all of its tiles (the three kernel rows too) pass over
// them, so x and dy come from memory once per task.
constexpr int64_t kChunkBytes = 256 * 1024;
void direct_kernel_grad_avx512(const float* x, const float* dy, const ConvGeometry& g, float* dw,
                               const GemmEpilogue& epilogue) {
  const int64_t cin = g.in_c, cout = g.out_c, lines = g.lines(), co_blocks = cout / kOutputs8;
  const int64_t size = 9 * cin * cout, groups = kernel_grad_groups(g, size);
  const int64_t splits = std::clamp<int64_t>((kMinKernelGradTasks + groups - 1) / groups, 1, co_blocks);
  const int64_t tasks = groups * splits;
  const int64_t chunk_lines = std::max<int64_t>(1, kChunkBytes / std::max<int64_t>(1, g.in_w * cin * 4));
  std::vector<float> partial(static_cast<size_t>(groups * size));
#pragma omp parallel for schedule(dynamic) if (tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t group = t / splits, split = t % splits;
    const int64_t line0 = lines * group / groups, line1 = lines * (group + 1) / groups;
    const int64_t cb0 = co_blocks * split / splits, cb1 = co_blocks * (split + 1) / splits;
    for (int64_t l0 = line0; l0 < line1; l0 += chunk_lines)
      for (int64_t ky = 0; ky < 3; ++ky)
        for (int64_t cb = cb0; cb < cb1; ++cb) {
          float* out = partial.data() + group * size + (ky * co_blocks + cb) * 3 * kOutputs8 * cin;
          for (int64_t ci0 = 0; ci0 < cin; ci0 += kLanes16)
            lines_tile_avx512(x, dy, g, l0, std::min(line1, l0 + chunk_lines), ky, ci0, cb * kOutputs8, l0 == line0,
                              out + ci0);
        }
  }
#pragma omp parallel for schedule(static) if (size * groups > kParallelThreshold)
  for (int64_t row = 0; row < 9 * cin; ++row) {
    const int64_t tap = row / cin, ci = row % cin, ky = tap / 3, kx = tap % 3;
    float* dst = dw + row * cout;
    for (int64_t co = 0; co < cout; ++co) {
      const int64_t at = ((ky * co_blocks + co / kOutputs8) * 3 + kx) * kOutputs8 * cin + co % kOutputs8 * cin + ci;
      float total = 0;
      for (int64_t group = 0; group < groups; ++group) total += partial[static_cast<size_t>(group * size + at)];
      dst[co] = epilogue.accumulate ? dst[co] + total : total;
    }
  }
}
}  // namespace

bool direct_kernel_grad_applies(Isa isa, const ConvGeometry& g) {
  const bool few = g.in_c <= kDirectKernelGradMaxInputs && g.out_c <= kDirectKernelGradMaxOutputs;
  const bool avx512 = avx512_tile_fits(isa, g) && g.in_c <= kDirectKernelGradMaxAvx512 &&
                      g.out_c <= kDirectKernelGradMaxAvx512;
  return g.kernel_h == 3 && g.kernel_w == 3 && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 &&
         g.dilation_w == 1 && (few || avx512);
}

void direct_kernel_grad(Isa isa, const float* x, const float* dy, const ConvGeometry& g, float* dw,
                        const GemmEpilogue& epilogue) {
  if (avx512_tile_fits(isa, g)) return direct_kernel_grad_avx512(x, dy, g, dw, epilogue);
  const int64_t cin = g.in_c, cout = g.out_c, lines = g.lines(), row_floats = (g.out_w + 2) * cin;
  const int64_t channels16 = (cout + kChannelBlock - 1) / kChannelBlock * kChannelBlock;
  const int64_t size = 9 * cin * channels16, groups = kernel_grad_groups(g, 9 * cin * cout);
  const bool copy_dy = cout != channels16;
  void (*const products)(const RowProducts&) = avx2_kernels(isa) ? row_products_avx2 : row_products_generic;
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
  add_group_sums(partial.data(), groups, 9 * cin, cout, channels16, dw, epilogue.accumulate);
}

}  // namespace tg::kernels
