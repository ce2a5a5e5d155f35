// The forward pass (and so the stride-1 input gradient) of a 3x3, stride-1, undilated convolution on AVX-512 or
// AVX2 + FMA, straight from the NHWC input: no row tables, no im2col, no copy of the input.
//
// Why: the indirect GEMM tile (16 pixels x 16 channels) broadcasts one input value per FMA, and its 16 row pointers
// do not fit the general registers, so on 16-32-channel layers it runs load-bound at about half the FMA peak. Here
// a register tile is 16 adjacent output pixels of one line times 16 output channels, and each input value of the
// 18-pixel window under it is broadcast once and used by the three horizontal taps that read it: for one kernel row
// and input channel, 3 weight vectors and 18 broadcasts feed 48 FMAs. The AVX2 tile is the same at half the size:
// 8 pixels x 8 channels, 3 weight vectors and 10 broadcasts for 24 FMAs.
//
// Summation order: every output value is its sum over kernel rows, then input channels, then kernel columns, in
// that order, started from zero and then put through the epilogue, whatever the tile's position or the thread
// count. (Another order than the GEMM kernels': the two agree to float32 rounding, not bit for bit.)
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h, as in sgemm/f32_gemm__avx512f.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "autograd/kernels/conv_special.h"
#include "autograd/kernels/float8.h"
#include "autograd/parallel.h"
#include "autograd/tensor.h"

namespace tg::kernels {

namespace {
constexpr int kPixels = 16;          // output pixels per register tile
constexpr int kWindow = kPixels + 2;  // input pixels under them
constexpr int64_t kLanes = 16;        // output channels per register tile

// The kernel [3, 3, cin, cout] as [cout / lanes][ky][ci][kx][lanes], zero-padded to whole blocks of channels.
void pack_kernel(const float* w, int64_t cin, int64_t cout, int64_t lanes, float* packed) {
  const int64_t blocks = (cout + lanes - 1) / lanes;
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t ky = 0; ky < 3; ++ky)
      for (int64_t ci = 0; ci < cin; ++ci)
        for (int64_t kx = 0; kx < 3; ++kx) {
          float* dst = packed + (((b * 3 + ky) * cin + ci) * 3 + kx) * lanes;
          for (int64_t j = 0; j < lanes; ++j) {
            const int64_t co = b * lanes + j;
            dst[j] = co < cout ? w[((ky * 3 + kx) * cin + ci) * cout + co] : 0.0f;
          }
        }
}

// Where a tile reads and writes.
struct TileArgs {
  const float* image;  // the input image [in_h, in_w, cin]
  int64_t in_h, in_w, cin;
  int64_t iy0, ix0;   // input row and column of the window's top-left corner (may lie in the padding)
  const float* w;     // the packed kernel of this block of 16 output channels
  float* y;           // the tile's first output value; pixels cout floats apart
  int64_t cout, pixels, channels;  // pixels <= 16 and channels <= 16 of the tile exist
};

// Checked: the window may reach past the image's left or right edge (or past the end of a short line), so each
// input column is tested; the others read all 18 columns unchecked. Cin > 0 fixes the channel count (and so every
// broadcast's offset) at compile time; Cin == 0 reads it from args.
template <int Cin, bool Checked>
__attribute__((target("avx512f"), always_inline)) inline void tile(const TileArgs& a, const GemmEpilogue& e) {
  const int64_t cin = Cin > 0 ? Cin : a.cin;
  __m512 acc[kPixels];
#pragma GCC unroll 16
  for (int r = 0; r < kPixels; ++r) acc[r] = _mm512_setzero_ps();
  // Columns j of the window with 0 <= ix0 + j < in_w (Checked only).
  const int64_t j_lo = std::max<int64_t>(0, -a.ix0), j_hi = std::min<int64_t>(kWindow, a.in_w - a.ix0);
  for (int64_t ky = 0; ky < 3; ++ky) {
    const int64_t iy = a.iy0 + ky;
    if (iy < 0 || iy >= a.in_h) continue;  // a padding row adds nothing
    const float* row = a.image + iy * a.in_w * cin;
    const float* wk = a.w + ky * cin * 3 * kLanes;
    for (int64_t ci = 0; ci < cin; ++ci, wk += 3 * kLanes) {
      const __m512 w0 = _mm512_load_ps(wk), w1 = _mm512_load_ps(wk + kLanes), w2 = _mm512_load_ps(wk + 2 * kLanes);
      // Column ix0 + j of the input, channel ci: offsets known at compile time when Cin is.
      const float* in = row + a.ix0 * cin + ci;
#pragma GCC unroll 18
      for (int j = 0; j < kWindow; ++j) {
        if (Checked && (j < j_lo || j >= j_hi)) continue;
        const __m512 v = _mm512_set1_ps(in[j * cin]);
        // Output pixel r reads window column r + kx: kx = 0 here first, then 1 and 2 at the next columns.
        if (j < kPixels) acc[j] = _mm512_fmadd_ps(v, w0, acc[j]);
        if (j >= 1 && j - 1 < kPixels) acc[j - 1] = _mm512_fmadd_ps(v, w1, acc[j - 1]);
        if (j >= 2) acc[j - 2] = _mm512_fmadd_ps(v, w2, acc[j - 2]);
      }
    }
  }
  // The epilogue, in the GEMM kernels' order: old value + sum, + bias, then max(0, v) (NaN and -0 pass through).
  const __mmask16 lanes = static_cast<__mmask16>((1u << a.channels) - 1u);
  const __m512 zero = _mm512_setzero_ps();
  const __m512 bias = e.bias ? _mm512_maskz_loadu_ps(lanes, e.bias) : zero;
  for (int64_t r = 0; r < a.pixels; ++r) {
    float* out = a.y + r * a.cout;
    __m512 s = acc[r];
    if (e.accumulate) s = _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, out), s);
    if (e.bias) s = _mm512_add_ps(s, bias);
    if (e.relu) s = _mm512_max_ps(zero, s);
    _mm512_mask_storeu_ps(out, lanes, s);
  }
}

using TileFn = void (*)(const TileArgs&, const GemmEpilogue&);
template <int Cin, bool Checked>
__attribute__((target("avx512f"))) void tile_fn(const TileArgs& a, const GemmEpilogue& e) {
  tile<Cin, Checked>(a, e);
}

struct TilePair {
  TileFn inside, edge;
};
template <int Cin>
constexpr TilePair tiles_for() {
  return {tile_fn<Cin, false>, tile_fn<Cin, true>};
}
// The AVX2 + FMA tile: 8 output pixels x 8 channels (8 accumulators, 3 weights and a broadcast of AVX2's 16
// registers), the same sums in the same order as the AVX-512 tile, stored through a scratch tile.
constexpr int kPixels8 = 8, kWindow8 = kPixels8 + 2;
constexpr int64_t kLanes8 = kFloat8Lanes;
template <int Cin, bool Checked>
inline __attribute__((always_inline)) void tile8(const TileArgs& a, const GemmEpilogue& e) {
  const int64_t cin = Cin > 0 ? Cin : a.cin;
  Float8 acc[kPixels8];
#pragma GCC unroll 8
  for (int r = 0; r < kPixels8; ++r) acc[r] = Float8{};
  const int64_t j_lo = std::max<int64_t>(0, -a.ix0), j_hi = std::min<int64_t>(kWindow8, a.in_w - a.ix0);
  for (int64_t ky = 0; ky < 3; ++ky) {
    const int64_t iy = a.iy0 + ky;
    if (iy < 0 || iy >= a.in_h) continue;
    const float* row = a.image + iy * a.in_w * cin;
    const float* wk = a.w + ky * cin * 3 * kLanes8;
    for (int64_t ci = 0; ci < cin; ++ci, wk += 3 * kLanes8) {
      Float8 w0, w1, w2;
      load8(w0, wk), load8(w1, wk + kLanes8), load8(w2, wk + 2 * kLanes8);
      const float* in = row + a.ix0 * cin + ci;
#pragma GCC unroll 10
      for (int j = 0; j < kWindow8; ++j) {
        if (Checked && (j < j_lo || j >= j_hi)) continue;
        const float v = in[j * cin];  // a scalar times a Float8: a broadcast straight from memory
        if (j < kPixels8) acc[j] += v * w0;
        if (j >= 1 && j - 1 < kPixels8) acc[j - 1] += v * w1;
        if (j >= 2) acc[j - 2] += v * w2;
      }
    }
  }
  alignas(32) float sums[kPixels8 * kLanes8];
#pragma GCC unroll 8
  for (int r = 0; r < kPixels8; ++r) store8(sums + r * kLanes8, acc[r]);
  store_tile(sums, kLanes8, a.pixels, a.channels, a.y, a.cout, e);
}
template <int Cin, bool Checked>
TG_AVX2_FMA void tile8_fn(const TileArgs& a, const GemmEpilogue& e) {
  tile8<Cin, Checked>(a, e);
}
template <int Cin>
constexpr TilePair tiles8_for() {
  return {tile8_fn<Cin, false>, tile8_fn<Cin, true>};
}

// The tiles for an ISA and channel count, with their width in pixels and output channels.
struct Tiles {
  TilePair fns;
  int64_t pixels, lanes;
};
Tiles tiles_for_channels(Isa isa, int64_t cin) {
  if (isa == Isa::avx512) {
    switch (cin) {
      case 16: return {tiles_for<16>(), kPixels, kLanes};
      case 32: return {tiles_for<32>(), kPixels, kLanes};
      case 64: return {tiles_for<64>(), kPixels, kLanes};
      default: return {tiles_for<0>(), kPixels, kLanes};
    }
  }
  switch (cin) {
    case 16: return {tiles8_for<16>(), kPixels8, kLanes8};
    case 32: return {tiles8_for<32>(), kPixels8, kLanes8};
    case 64: return {tiles8_for<64>(), kPixels8, kLanes8};
    default: return {tiles8_for<0>(), kPixels8, kLanes8};
  }
}
}  // namespace

bool direct_3x3_forward_applies(Isa isa, const ConvGeometry& g) {
  const bool few_inputs = g.in_c <= 16 && g.out_c <= kDirect3x3MaxOutputsFor16Inputs;
  const bool few_channels = few_inputs || (g.out_c <= 16 && g.in_c <= kDirect3x3MaxInputsFor16Outputs);
  const bool takes = isa == Isa::avx512 ? few_channels : isa == Isa::avx2 && few_inputs;
  return takes && g.kernel_h == 3 && g.kernel_w == 3 && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 &&
         g.dilation_w == 1 && g.in_c > 0;
}

void direct_3x3_forward(Isa isa, const float* x, const float* w, const ConvGeometry& g, float* y,
                        const GemmEpilogue& e) {
  const Tiles tiles = tiles_for_channels(isa, g.in_c);
  const int64_t cin = g.in_c, cout = g.out_c, lanes = tiles.lanes, pixels = tiles.pixels;
  const int64_t blocks = (cout + lanes - 1) / lanes;
  Tensor packed = Tensor::empty({blocks * 9 * cin * lanes});  // 64-byte aligned, as the weight loads want
  pack_kernel(w, cin, cout, lanes, packed.data<float>());
  const int64_t lines = g.lines(), tiles_per_line = (g.out_w + pixels - 1) / pixels;
  // A task is a few output lines of one block of channels; the split depends on the shape only.
  const int64_t lines_per_task = std::max<int64_t>(1, lines * blocks / 64);
  const int64_t line_tasks = (lines + lines_per_task - 1) / lines_per_task, tasks = line_tasks * blocks;
  const float* wp = packed.data<float>();
#pragma omp parallel for schedule(dynamic) if (tasks > 1 && lines * g.out_w * cout * cin > kParallelThreshold)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t b = t % blocks, l0 = t / blocks * lines_per_task, l1 = std::min(lines, l0 + lines_per_task);
    const GemmEpilogue te{e.accumulate, e.bias ? e.bias + b * lanes : nullptr, e.relu};
    for (int64_t line = l0; line < l1; ++line) {
      const int64_t image = line / g.out_h, oy = line % g.out_h;
      TileArgs a{x + image * g.in_h * g.in_w * cin, g.in_h, g.in_w, cin, oy - g.pad_top, 0,
                 wp + b * 9 * cin * lanes, nullptr, cout, 0, std::min(lanes, cout - b * lanes)};
      for (int64_t tx = 0; tx < tiles_per_line; ++tx) {
        const int64_t ox0 = tx * pixels;
        a.ix0 = ox0 - g.pad_left;
        a.pixels = std::min(pixels, g.out_w - ox0);
        a.y = y + (line * g.out_w + ox0) * cout + b * lanes;
        const bool inside = a.ix0 >= 0 && a.ix0 + pixels + 2 <= g.in_w;
        (inside ? tiles.fns.inside : tiles.fns.edge)(a, te);
      }
    }
  }
}

}  // namespace tg::kernels
