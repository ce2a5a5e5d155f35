#include "autograd/kernels/upsample_conv.h"

// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h, as in sgemm/f32_gemm__avx512f.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "autograd/kernels/conv_gemm.h"
#include "autograd/kernels/isa.h"
#include "autograd/kernels/packed_gemm.h"
#include "autograd/parallel.h"
#include "autograd/tensor.h"

namespace tg::kernels {

namespace {

// Output row (or column) 2i + phase reads small rows i + u for u = 0 .. phase; kernel row k lands on u = (phase + k) / 2.
int64_t small_offset(int64_t phase, int64_t k) { return (phase + k) / 2; }

// Phase (a, b)'s weights: for each of its (a + 1)(b + 1) taps (u, v), u-major, the [cin, cout] sum of the kernel
// taps (ky, kx) that land on it, in ky, kx order.
template <class T>
std::vector<T> phase_weights(const T* w, int64_t a, int64_t b, int64_t cin, int64_t cout) {
  const int64_t tap_size = cin * cout, taps_w = b + 1;
  std::vector<T> out(static_cast<size_t>((a + 1) * taps_w * tap_size), T(0));
  for (int64_t ky = 0; ky < 2; ++ky)
    for (int64_t kx = 0; kx < 2; ++kx) {
      T* dst = out.data() + (small_offset(a, ky) * taps_w + small_offset(b, kx)) * tap_size;
      const T* src = w + (ky * 2 + kx) * tap_size;
      for (int64_t e = 0; e < tap_size; ++e) dst[e] += src[e];
    }
  return out;
}

void forward_f32(const float* x, const float* w, const UpsampleConvShape& s, const float* bias, bool relu, float* y) {
  const SgemmUkernel& uk = active_sgemm_ukernel_for_columns(s.out_c);
  const int64_t cin = s.in_c, n = s.out_c, out_w = 2 * s.in_w, lines = s.batch * s.in_h;
  // The four phases' kernels, each packed once into nr-column panels (k = taps * cin rows), in one aligned block.
  int64_t offset[4], total = 0;
  for (int64_t p = 0; p < 4; ++p) offset[p] = total, total += packed_b_floats(uk, (p / 2 + 1) * (p % 2 + 1) * cin, n);
  Tensor packed = Tensor::empty({total});
  for (int64_t p = 0; p < 4; ++p) {
    const int64_t k = (p / 2 + 1) * (p % 2 + 1) * cin;
    const std::vector<float> summed = phase_weights(w, p / 2, p % 2, cin, n);
    pack_b_matrix(uk, false, summed.data(), n, 0, k, 0, n, k * uk.nr, packed.data<float>() + offset[p]);
  }
  const std::vector<float> zeros(static_cast<size_t>(cin), 0.0f);
  const int64_t groups = (s.in_w + uk.mr - 1) / uk.mr;
  // A task is one small row i and one output row phase a: output row 2i + a, both column phases. Within it, mr
  // consecutive small columns j of one column phase b are one micro-kernel tile, whose output pixels 2j + b lie two
  // pixels apart: the tile's row stride (ldc) is 2 * n.
#pragma omp parallel for schedule(dynamic) if (lines > 1)
  for (int64_t t = 0; t < 2 * lines; ++t) {
    const int64_t line = t / 2, a = t % 2, image = line / s.in_h, i = line % s.in_h;
    float* y_row = y + ((image * 2 * s.in_h + 2 * i + a) * out_w) * n;
    thread_local std::vector<const float*> table;
    for (int64_t b = 0; b < 2; ++b) {
      const int64_t taps = (a + 1) * (b + 1), p = 2 * a + b, k = taps * cin;
      table.resize(static_cast<size_t>(groups * taps * uk.mr));
      for (int64_t grp = 0; grp < groups; ++grp)
        for (int64_t r = 0; r < uk.mr; ++r) {
          const int64_t j = std::min(grp * uk.mr + r, s.in_w - 1);  // rows past the line repeat the last one: never stored
          for (int64_t u = 0; u <= a; ++u)
            for (int64_t v = 0; v <= b; ++v) {
              const bool inside = i + u < s.in_h && j + v < s.in_w;
              table[(grp * taps + u * (b + 1) + v) * uk.mr + r] =
                  inside ? x + ((line + u) * s.in_w + j + v) * cin : zeros.data();
            }
        }
      for (int64_t j0 = 0; j0 < n; j0 += uk.nr) {
        const TileEpilogue te{false, bias ? bias + j0 : nullptr, relu};
        const float* panel = packed.data<float>() + offset[p] + (j0 / uk.nr) * k * uk.nr;
        for (int64_t grp = 0; grp < groups; ++grp)
          uk.run_indirect(taps, cin, table.data() + grp * taps * uk.mr, panel,
                          y_row + (2 * grp * uk.mr + b) * n + j0, 2 * n, std::min(uk.mr, s.in_w - grp * uk.mr),
                          std::min(uk.nr, n - j0), te);
      }
    }
  }
}

// The forward on AVX-512, straight from x: a register tile is 8 adjacent small pixels of one small row times 16
// output channels, in both column phases of one row phase a (16 accumulators), and each of the 9 small pixels under
// it is broadcast once per small row u and input channel for the three products that read it: phase b = 0's tap
// (u, 0) and phase b = 1's taps (u, 0) and (u, 1). 3 weight vectors and 9 broadcasts feed 24 FMAs, where the indirect
// tile above broadcasts once per FMA and, on rows of 16 small pixels, computes 28 rows to keep 16.
// Every output value sums small rows u, then input channels, then its taps v, in that order, from zero.
constexpr int kSmallPixels = 8;
constexpr int64_t kLanes = 16;

// The weights for one block of 16 output channels: row phase 0 (u = 0), then row phase 1 (u = 0, 1); for each u,
// per input channel, the vectors of phase (a, 0) tap (u, 0), phase (a, 1) tap (u, 0) and phase (a, 1) tap (u, 1).
int64_t phase_floats(int64_t a, int64_t cin) { return (a + 1) * cin * 3 * kLanes; }
// Packed into dst (blocks * per_block floats, see forward_direct_avx512), each tap sum added in ky, kx order from
// zero as phase_weights does; in parallel over blocks of output channels.
void pack_phase_weights(const float* w, int64_t cin, int64_t cout, float* dst) {
  const int64_t blocks = (cout + kLanes - 1) / kLanes, per_block = phase_floats(0, cin) + phase_floats(1, cin);
  const int64_t tap_size = cin * cout;
#pragma omp parallel for schedule(static) if (blocks * per_block > kParallelThreshold)
  for (int64_t blk = 0; blk < blocks; ++blk)
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t u = 0; u <= a; ++u)
        for (int64_t ci = 0; ci < cin; ++ci) {
          float* out = dst + blk * per_block + a * phase_floats(0, cin) + (u * cin + ci) * 3 * kLanes;
          // Vector e of the three: phase (a, b) tap (u, v) with (b, v) = (0, 0), (1, 0), (1, 1).
          const int64_t co0 = blk * kLanes, live = std::min(kLanes, cout - co0);
          for (int64_t e = 0; e < 3; ++e) {
            const int64_t b = e > 0, v = e == 2;
            float* sum = out + e * kLanes;
            std::fill(sum, sum + kLanes, 0.0f);
            for (int64_t ky = 0; ky < 2; ++ky)
              for (int64_t kx = 0; kx < 2; ++kx) {
                if (small_offset(a, ky) != u || small_offset(b, kx) != v) continue;
                const float* src = w + (ky * 2 + kx) * tap_size + ci * cout + co0;
                for (int64_t j = 0; j < live; ++j) sum[j] += src[j];
              }
          }
        }
}

struct PhaseTile {
  const float* x;  // small row i of the image, [W, cin]
  int64_t in_w, cin, rows;  // rows: 1 (row phase 0, or the last small row) or 2 small rows to read
  int64_t j0;               // first small column of the tile
  const float* w;           // the packed weights of this row phase and channel block
  float* y;                 // output pixel (2i + a, 2 j0), channel block start
  int64_t cout, pixels, channels;  // small pixels (<= 8) and channels (<= 16) of the tile that exist
  const float* bias;        // of this channel block, or null
  bool relu;
};

// Checked: the tile's last small column (j0 + 8, read by phase 1's tap v = 1) or more lie past the row's end.
template <bool Checked>
__attribute__((target("avx512f"))) void phase_tile(const PhaseTile& t) {
  __m512 even[kSmallPixels], odd[kSmallPixels];
#pragma GCC unroll 8
  for (int r = 0; r < kSmallPixels; ++r) even[r] = odd[r] = _mm512_setzero_ps();
  const int64_t cin = t.cin, live = std::min<int64_t>(kSmallPixels + 1, t.in_w - t.j0);
  for (int64_t u = 0; u < t.rows; ++u) {
    const float* row = t.x + (u * t.in_w + t.j0) * cin;
    const float* wk = t.w + u * cin * 3 * kLanes;
    for (int64_t ci = 0; ci < cin; ++ci, wk += 3 * kLanes) {
      const __m512 w_even = _mm512_load_ps(wk), w_odd0 = _mm512_load_ps(wk + kLanes);
      const __m512 w_odd1 = _mm512_load_ps(wk + 2 * kLanes);
#pragma GCC unroll 9
      for (int c = 0; c <= kSmallPixels; ++c) {
        if (Checked && c >= live) continue;
        const __m512 v = _mm512_set1_ps(row[c * cin + ci]);
        if (c < kSmallPixels) {
          even[c] = _mm512_fmadd_ps(v, w_even, even[c]);
          odd[c] = _mm512_fmadd_ps(v, w_odd0, odd[c]);
        }
        if (c >= 1) odd[c - 1] = _mm512_fmadd_ps(v, w_odd1, odd[c - 1]);
      }
    }
  }
  const __mmask16 lanes = static_cast<__mmask16>((1u << t.channels) - 1u);
  const __m512 zero = _mm512_setzero_ps(), bias = t.bias ? _mm512_maskz_loadu_ps(lanes, t.bias) : zero;
  for (int64_t r = 0; r < t.pixels; ++r) {
    __m512 e = even[r], o = odd[r];
    if (t.bias) e = _mm512_add_ps(e, bias), o = _mm512_add_ps(o, bias);
    if (t.relu) e = _mm512_max_ps(zero, e), o = _mm512_max_ps(zero, o);  // NaN and -0 pass, as in the relu op
    _mm512_mask_storeu_ps(t.y + 2 * r * t.cout, lanes, e);
    _mm512_mask_storeu_ps(t.y + (2 * r + 1) * t.cout, lanes, o);
  }
}

void forward_direct_avx512(const float* x, const float* w, const UpsampleConvShape& s, const float* bias, bool relu,
                           float* y) {
  const int64_t cin = s.in_c, n = s.out_c, out_w = 2 * s.in_w, lines = s.batch * s.in_h;
  const int64_t blocks = (n + kLanes - 1) / kLanes, per_block = phase_floats(0, cin) + phase_floats(1, cin);
  Tensor packed = Tensor::empty({blocks * per_block});  // 64-byte aligned for the weight loads
  pack_phase_weights(w, cin, n, packed.data<float>());
  const float* wp = packed.data<float>();
  // Tasks run through the lines of one block of channels before the next block, so that a block's weights (up to
  // 24 cin floats per channel: 400 KB at 1024 input channels) stay in L2 while the lines pass over them.
  const int64_t tasks = 2 * lines * blocks;
#pragma omp parallel for schedule(dynamic) if (tasks > 1 && lines * s.in_w * cin * n > kParallelThreshold)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t blk = task / (2 * lines), line = task % (2 * lines) / 2, a = task % 2;
    const int64_t image = line / s.in_h, i = line % s.in_h;
    PhaseTile t{x + line * s.in_w * cin, s.in_w, cin, a == 1 && i + 1 < s.in_h ? 2 : 1, 0,
                wp + blk * per_block + a * phase_floats(0, cin),
                nullptr, n, 0, std::min(kLanes, n - blk * kLanes), bias ? bias + blk * kLanes : nullptr, relu};
    float* y_row = y + ((image * 2 * s.in_h + 2 * i + a) * out_w) * n + blk * kLanes;
    for (int64_t j0 = 0; j0 < s.in_w; j0 += kSmallPixels) {
      t.j0 = j0;
      t.y = y_row + 2 * j0 * n;
      t.pixels = std::min<int64_t>(kSmallPixels, s.in_w - j0);
      if (j0 + kSmallPixels + 1 <= s.in_w) phase_tile<false>(t);
      else phase_tile<true>(t);
    }
  }
}

// float64: the convolution of the upsampled tensor, its 16 taps summed plainly.
template <class T>
void forward_reference(const T* x, const T* w, const UpsampleConvShape& s, const T* bias, bool relu, T* y) {
  const int64_t out_h = 2 * s.in_h, out_w = 2 * s.in_w, cin = s.in_c, n = s.out_c;
#pragma omp parallel for schedule(static) if (s.batch * out_h * out_w * cin * n > kParallelThreshold)
  for (int64_t row = 0; row < s.batch * out_h; ++row) {
    const int64_t image = row / out_h, oy = row % out_h;
    for (int64_t ox = 0; ox < out_w; ++ox) {
      T* out = y + (row * out_w + ox) * n;
      for (int64_t o = 0; o < n; ++o) out[o] = bias ? bias[o] : T(0);
      for (int64_t ky = 0; ky < 2; ++ky)
        for (int64_t kx = 0; kx < 2; ++kx) {
          if (oy + ky >= out_h || ox + kx >= out_w) continue;  // 'same' pads one row and column after
          const T* in = x + ((image * s.in_h + (oy + ky) / 2) * s.in_w + (ox + kx) / 2) * cin;
          const T* tap = w + (ky * 2 + kx) * cin * n;
          for (int64_t c = 0; c < cin; ++c)
            for (int64_t o = 0; o < n; ++o) out[o] += in[c] * tap[c * n + o];
        }
      if (relu)
        for (int64_t o = 0; o < n; ++o) out[o] = out[o] < 0 ? T(0) : out[o];
    }
  }
}

}  // namespace

template <class T>
void upsample_conv_forward(const T* x, const T* w, const UpsampleConvShape& s, const T* bias, bool relu, T* y) {
  if (s.batch * s.in_h * s.in_w * s.out_c == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (active_isa() == Isa::avx512) forward_direct_avx512(x, w, s, bias, relu, y);
    else forward_f32(x, w, s, bias, relu, y);
  }
  else forward_reference(x, w, s, bias, relu, y);
}

template <class T>
void upsample_conv_input_grad(const T* dy, const T* w, const UpsampleConvShape& s, T* dx) {
  const int64_t cin = s.in_c, n = s.out_c;
  // K [3, 3, n, cin]: dy row 2i - 1 + r reaches small row i through kernel rows ky with r + ky in {1, 2}. Each
  // entry sums its taps transposed, in ky, kx order from zero; in 32x32 blocks, in parallel (a 1024 -> 512 layer's
  // K is 4.7 million entries, read across rows of the kernel).
  Tensor k3 = Tensor::empty({3, 3, n, cin}, dtype_of<T>());
  T* k = k3.data<T>();
  constexpr int64_t kBlock = 32;
  const int64_t o_blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (9 * n * cin > kParallelThreshold)
  for (int64_t tb = 0; tb < 9 * o_blocks; ++tb) {
    const int64_t r = tb / o_blocks / 3, c = tb / o_blocks % 3;
    const int64_t o0 = tb % o_blocks * kBlock, o1 = std::min(n, o0 + kBlock);
    const T* taps[4];
    int64_t count = 0;
    for (int64_t ky = 0; ky < 2; ++ky)
      for (int64_t kx = 0; kx < 2; ++kx)
        if (r + ky >= 1 && r + ky <= 2 && c + kx >= 1 && c + kx <= 2) taps[count++] = w + (ky * 2 + kx) * cin * n;
    T* dst = k + (r * 3 + c) * n * cin;
    for (int64_t c0 = 0; c0 < cin; c0 += kBlock)
      for (int64_t o = o0; o < o1; ++o)
        for (int64_t ci = c0; ci < std::min(cin, c0 + kBlock); ++ci) {
          T sum = T(0);
          for (int64_t q = 0; q < count; ++q) sum += taps[q][ci * n + o];
          dst[o * cin + ci] = sum;
        }
  }
  ConvGeometry g;
  g.batch = s.batch;
  g.in_h = 2 * s.in_h, g.in_w = 2 * s.in_w, g.in_c = n;
  g.out_h = s.in_h, g.out_w = s.in_w, g.out_c = cin;
  g.kernel_h = g.kernel_w = 3;
  g.stride_h = g.stride_w = 2;
  g.pad_top = g.pad_left = 1;
  conv_forward(dy, k, g, dx);
}

template <class T>
void upsample_conv_kernel_grad(const T* x, const T* dy, const UpsampleConvShape& s, T* dw) {
  const int64_t cin = s.in_c, n = s.out_c, out_h = 2 * s.in_h, out_w = 2 * s.in_w;
  // boxes [N, H, W, 4, n]: for tap (a, b), the sum of dy over the output pixels that read small pixel (i, j) through
  // it: rows 2i - a, 2i + 1 - a and columns 2j - b, 2j + 1 - b, those inside the output, added in that order.
  Tensor boxes = Tensor::empty({s.batch, s.in_h, s.in_w, 4 * n}, dtype_of<T>());
  T* box = boxes.data<T>();
#pragma omp parallel for schedule(static) if (s.batch * out_h * out_w * n > kParallelThreshold)
  for (int64_t line = 0; line < s.batch * s.in_h; ++line) {
    const int64_t image = line / s.in_h, i = line % s.in_h;
    for (int64_t j = 0; j < s.in_w; ++j)
      for (int64_t tap = 0; tap < 4; ++tap) {
        const int64_t a = tap / 2, b = tap % 2;
        T* dst = box + ((line * s.in_w + j) * 4 + tap) * n;
        std::fill_n(dst, n, T(0));
        for (int64_t oy = 2 * i - a; oy <= 2 * i + 1 - a; ++oy)
          for (int64_t ox = 2 * j - b; ox <= 2 * j + 1 - b; ++ox) {
            if (oy < 0 || oy >= out_h || ox < 0 || ox >= out_w) continue;
            const T* src = dy + ((image * out_h + oy) * out_w + ox) * n;
#pragma omp simd
            for (int64_t o = 0; o < n; ++o) dst[o] += src[o];
          }
      }
  }
  // [cin, 4n] = x^T boxes: a 1x1 convolution's kernel gradient, then each tap's columns into its place in dw.
  ConvGeometry g;
  g.batch = s.batch;
  g.in_h = g.out_h = s.in_h, g.in_w = g.out_w = s.in_w;
  g.in_c = cin, g.out_c = 4 * n;
  Tensor grouped = Tensor::empty({cin, 4 * n}, dtype_of<T>());
  conv_kernel_grad(x, box, g, grouped.data<T>());
  const T* src = grouped.data<T>();
  for (int64_t tap = 0; tap < 4; ++tap)
    for (int64_t c = 0; c < cin; ++c) std::copy_n(src + (c * 4 + tap) * n, n, dw + (tap * cin + c) * n);
}

template void upsample_conv_forward<float>(const float*, const float*, const UpsampleConvShape&, const float*, bool,
                                           float*);
template void upsample_conv_forward<double>(const double*, const double*, const UpsampleConvShape&, const double*,
                                            bool, double*);
template void upsample_conv_input_grad<float>(const float*, const float*, const UpsampleConvShape&, float*);
template void upsample_conv_input_grad<double>(const double*, const double*, const UpsampleConvShape&, double*);
template void upsample_conv_kernel_grad<float>(const float*, const float*, const UpsampleConvShape&, float*);
template void upsample_conv_kernel_grad<double>(const double*, const double*, const UpsampleConvShape&, double*);

}  // namespace tg::kernels
