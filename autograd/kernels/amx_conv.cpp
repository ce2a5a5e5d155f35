// The AMX bfloat16 convolution passes (amx_conv.h). Tiles: C is 16 x 16 float32, A is 16 rows x 32 (or 16)
// bfloat16 of k, B is 16 (or 8) k-pairs x 16 columns x 2 bfloat16 (the "VNNI" layout, a pair of k values side by
// side). Each product holds up to 2 x 2 C tiles (a 32 x 32 block) in tiles 0-3, A in 4-5 and B in 6-7.
//
//   forward:      no im2col. The input is copied once as padded bfloat16 NHWC; an A tile is 16 output pixels of one
//                 row, whose inputs for one tap lie stride_w pixels apart, so it loads straight from that copy, 32
//                 (or 16) channels at a time; B is the kernel, packed once per call per (tap, channel chunk).
//   kernel grad:  at stride_w 1, also direct: an A tile is 16 channels x 32 consecutive pixels of a channel-major
//                 padded copy (16 x 16 in-register transposes), B is 32 pixels of dy in pairs; C tiles stay in
//                 registers over a fixed group of pixels. Other strides: dw^T = dy^T * patches, with two im2col rows
//                 interleaved as B and dy transposed by gathers. Groups of pixels sum into their own float32 copy,
//                 added in group order at the end.
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h (_mm512_undefined_ps), as in the sgemm kernels.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "autograd/kernels/amx_conv.h"

#include <immintrin.h>
#include <omp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cpuid.h>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "autograd/kernels/conv_gemm.h"
#include "autograd/kernels/conv_special.h"
#include "autograd/parallel.h"
#include "autograd/tensor.h"

namespace tg::kernels {

namespace {

#define TG_AMX_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16")))

using bf16 = uint16_t;

constexpr int64_t kTile = 16;        // rows of every tile, and columns of a C or B tile
constexpr int64_t kTileK = 32;       // k per A tile row (32 bfloat16 = 64 bytes)
constexpr int64_t kSuperChunk = 256;       // pixels per packed block of the kernel gradient (C tiles reloaded per block)
constexpr int64_t kColumnBlock = 256;      // patch columns per kernel-gradient task
// Pixels per group of the direct kernel gradient at least: each group writes a whole float32 copy of dw.
constexpr int64_t kMinGroupPixels = 4096;
constexpr int64_t kMinChannels = 4;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Uninitialised storage from the tensor allocator's cache (a training step asks for the same sizes every time, so
// packing maps no fresh pages), for packed operands and partial sums whose every element is written before it is read.
template <class T>
class Scratch {
 public:
  explicit Scratch(int64_t count) : tensor_(Tensor::empty({(count * int64_t(sizeof(T)) + 3) / 4})) {}
  T* data() { return reinterpret_cast<T*>(tensor_.data<float>()); }
  const T* data() const { return reinterpret_cast<const T*>(tensor_.data<float>()); }

 private:
  Tensor tensor_;
};

ConvPrecision precision_from_environment() {
  const char* value = std::getenv("TAPEGRAD_PRECISION");
  if (!value || !*value) return ConvPrecision::float32;
  const ConvPrecision p = parse_conv_precision(value, "TAPEGRAD_PRECISION");
  std::string why;
  if (p == ConvPrecision::bf16 && !amx_bf16_available(&why))
    throw std::runtime_error("TAPEGRAD_PRECISION=bf16: " + why + " (unset it to train in float32)");
  return p;
}

std::atomic<ConvPrecision>& precision_slot() {
  static std::atomic<ConvPrecision> precision{precision_from_environment()};
  return precision;
}

struct Availability {
  bool ok = false;
  std::string why;
};

Availability detect_amx() {
  Availability a;
#if defined(__x86_64__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || !(edx & (1u << 24)) || !(edx & (1u << 22))) {
    a.why = "this CPU has no AMX-BF16 (Intel Sapphire Rapids or later has it)";
    return a;
  }
  unsigned eax1 = 0, ebx1 = 0, ecx1 = 0, edx1 = 0;
  const bool avx512_bf16 = __get_cpuid_count(7, 1, &eax1, &ebx1, &ecx1, &edx1) && (eax1 & (1u << 5));
  if (!avx512_bf16 || !__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vl")) {
    a.why = "this CPU has AMX but not AVX512-BF16 with AVX512BW/VL, which the packing needs";
    return a;
  }
  // Linux hands out the 8 KB tile state only to processes that ask (ARCH_REQ_XCOMP_PERM for XTILEDATA).
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
    a.why = "the Linux kernel did not grant the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM failed; Linux 5.16 "
            "or later is needed)";
    return a;
  }
  a.ok = true;
#else
  a.why = "AMX exists only on x86-64";
#endif
  return a;
}

const Availability& availability() {
  static const Availability a = detect_amx();
  return a;
}

// Palette 1, all eight tiles 16 rows x 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Tile state is per thread: each task configures before its first tile instruction and releases after its last.
// C tiles (0-3) are 16 x 16 float32; A tiles (4-5) are 16 rows of k_bytes; B tiles (6-7) are k_bytes / 4 k-pairs
// of 16 columns.
struct TileScope {
  TG_AMX_TARGET explicit TileScope(int k_bytes = 64) {
    TileConfig config;
    for (int t = 0; t < 4; ++t) config.colsb[t] = 64, config.rows[t] = kTile;
    for (int t = 4; t < 6; ++t) config.colsb[t] = static_cast<uint16_t>(k_bytes), config.rows[t] = kTile;
    for (int t = 6; t < 8; ++t) config.colsb[t] = 64, config.rows[t] = static_cast<uint8_t>(k_bytes / 4);
    _tile_loadconfig(&config);
  }
  TG_AMX_TARGET ~TileScope() { _tile_release(); }
  TileScope(const TileScope&) = delete;
  TileScope& operator=(const TileScope&) = delete;
};

// count floats to bfloat16 (round to nearest even; the instruction reads and writes denormals as zero).
TG_AMX_TARGET void to_bf16(const float* src, int64_t count, bf16* dst) {
  int64_t i = 0;
  for (; i + 16 <= count; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i)));
  if (i < count) {
    const __mmask16 live = static_cast<__mmask16>((1u << (count - i)) - 1);
    _mm256_mask_storeu_epi16(dst + i, live, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(live, src + i)));
  }
}

// Where each tap of the kernel reads, relative to an output pixel's window corner (rows, columns).
struct Taps {
  std::vector<int64_t> dy, dx;
  explicit Taps(const ConvGeometry& g) {
    for (int64_t ky = 0; ky < g.kernel_h; ++ky)
      for (int64_t kx = 0; kx < g.kernel_w; ++kx) dy.push_back(ky * g.dilation_h), dx.push_back(kx * g.dilation_w);
  }
};

// Patch columns [k0, k1) of output pixel p (im2col's row, ordered (ky, kx, ci)) as bfloat16; columns past the patch
// and taps in the padding are zeros. One division per call: the taps are walked, not recomputed per column.
TG_AMX_TARGET void patch_row_bf16(const float* x, const ConvGeometry& g, const Taps& taps, int64_t p, int64_t k0,
                                  int64_t k1, bf16* out) {
  const int64_t line = p / g.out_w, ox = p % g.out_w, oy = line % g.out_h, image = line / g.out_h, c = g.in_c;
  const int64_t y0 = oy * g.stride_h - g.pad_top, x0 = ox * g.stride_w - g.pad_left;
  const float* base = x + image * g.in_h * g.in_w * c;
  const int64_t end = std::min(k1, g.patch());
  bf16* dst = out;
  for (int64_t tap = k0 / c, ci = k0 % c, k = k0; k < end; ++tap, ci = 0) {
    const int64_t count = std::min(c - ci, end - k);
    const int64_t iy = y0 + taps.dy[tap], ix = x0 + taps.dx[tap];
    if (iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w) to_bf16(base + (iy * g.in_w + ix) * c + ci, count, dst);
    else std::memset(dst, 0, sizeof(bf16) * static_cast<size_t>(count));
    dst += count, k += count;
  }
  if (out + (k1 - k0) > dst) std::memset(dst, 0, sizeof(bf16) * static_cast<size_t>(out + (k1 - k0) - dst));
}

// Writes the 16 x 16 float32 tile at `sums` (row stride lds) into C through the epilogue, rows x cols of it.
TG_AMX_TARGET void store_through_epilogue(const float* sums, int64_t lds, float* c, int64_t ldc, int64_t rows,
                                          int64_t cols, const TileEpilogue& e) {
  const __mmask16 live = static_cast<__mmask16>(cols >= 16 ? 0xffff : (1u << cols) - 1);
  const __m512 zero = _mm512_setzero_ps();
  const __m512 bias = e.bias ? _mm512_maskz_loadu_ps(live, e.bias) : zero;
  for (int64_t r = 0; r < rows; ++r) {
    __m512 v = _mm512_loadu_ps(sums + r * lds);
    float* cr = c + r * ldc;
    if (e.accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(live, cr), v);
    if (e.bias) v = _mm512_add_ps(v, bias);
    if (e.relu) v = _mm512_max_ps(zero, v);  // NaN and -0 pass through, as in the relu op
    _mm512_mask_storeu_ps(cr, live, v);
  }
}

// One k block (32 k) of up to 2 x 2 C tiles: C(r, c) += A_r B_c, A_0 at a0 and A_1 at a1 (row stride lda
// bytes), B_0 at b0 and B_1 at b1 (64-byte rows). The flags only ever change between tiles, never within a loop,
// so their branches cost nothing beside the 16-cycle tile products.
TG_AMX_TARGET inline void tile_step(bool two_rows, bool two_cols, const bf16* a0, const bf16* a1, int64_t lda,
                                    const bf16* b0, const bf16* b1) {
  _tile_loadd(4, a0, lda);
  _tile_loadd(6, b0, 64);
  _tile_dpbf16ps(0, 4, 6);
  if (two_cols) {
    _tile_loadd(7, b1, 64);
    _tile_dpbf16ps(1, 4, 7);
  }
  if (two_rows) {
    _tile_loadd(5, a1, lda);
    _tile_dpbf16ps(2, 5, 6);
    if (two_cols) _tile_dpbf16ps(3, 5, 7);
  }
}

// `steps` tile steps whose operands advance by a_step and b_step elements each.
TG_AMX_TARGET void run_tiles(bool two_rows, bool two_cols, int64_t steps, const bf16* a0, const bf16* a1, int64_t lda,
                             int64_t a_step, const bf16* b0, const bf16* b1, int64_t b_step) {
  for (int64_t s = 0; s < steps; ++s, a0 += a_step, a1 += a_step, b0 += b_step, b1 += b_step)
    tile_step(two_rows, two_cols, a0, a1, lda, b0, b1);
}

// Stores C tiles 0-3 (those in use) to `out` (row stride ldo bytes, tile (r, c) at out + 16 r rows + 16 c floats).
TG_AMX_TARGET void store_c_tiles(bool two_rows, bool two_cols, float* out, int64_t ldo) {
  const int64_t rows16 = 16 * ldo / static_cast<int64_t>(sizeof(float));
  _tile_stored(0, out, ldo);
  if (two_cols) _tile_stored(1, out + 16, ldo);
  if (two_rows) _tile_stored(2, out + rows16, ldo);
  if (two_rows && two_cols) _tile_stored(3, out + rows16 + 16, ldo);
}

TG_AMX_TARGET void load_c_tiles(bool two_rows, bool two_cols, const float* in, int64_t ldi) {
  const int64_t rows16 = 16 * ldi / static_cast<int64_t>(sizeof(float));
  _tile_loadd(0, in, ldi);
  if (two_cols) _tile_loadd(1, in + 16, ldi);
  if (two_rows) _tile_loadd(2, in + rows16, ldi);
  if (two_rows && two_cols) _tile_loadd(3, in + rows16 + 16, ldi);
}

TG_AMX_TARGET void zero_c_tiles() {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
}

// The input as bfloat16 with its padding made explicit: [batch][hp][wp][cp], zeros outside the image and in the
// channels past c, so every tap of every output tile reads in bounds without a check.
struct PaddedInput {
  Scratch<bf16> data;
  int64_t hp = 0, wp = 0, cp = 0;
};

TG_AMX_TARGET PaddedInput pad_input(const float* x, const ConvGeometry& g, int64_t hp, int64_t wp, int64_t cp) {
  PaddedInput p{Scratch<bf16>(g.batch * hp * wp * cp), hp, wp, cp};
  const int64_t c = g.in_c;
#pragma omp parallel for schedule(static) if (g.batch * hp * wp * cp > kParallelThreshold)
  for (int64_t row = 0; row < g.batch * hp; ++row) {
    const int64_t image = row / hp, iy = row % hp - g.pad_top;
    bf16* dst = p.data.data() + row * wp * cp;
    if (iy < 0 || iy >= g.in_h) {
      std::memset(dst, 0, sizeof(bf16) * static_cast<size_t>(wp * cp));
      continue;
    }
    const float* src = x + (image * g.in_h + iy) * g.in_w * c;
    for (int64_t col = 0; col < wp; ++col, dst += cp) {
      const int64_t ix = col - g.pad_left;
      if (ix < 0 || ix >= g.in_w) {
        std::memset(dst, 0, sizeof(bf16) * static_cast<size_t>(cp));
        continue;
      }
      to_bf16(src + ix * c, c, dst);
      if (cp > c) std::memset(dst + c, 0, sizeof(bf16) * static_cast<size_t>(cp - c));
    }
  }
  return p;
}

// The kernel as B tiles: [panel][tap][chunk][kc / 2 pairs][16 columns][2], channels past c and columns past n zero.
TG_AMX_TARGET Scratch<bf16> pack_kernel_taps(const float* w, const ConvGeometry& g, int64_t cp, int64_t kc) {
  const int64_t c = g.in_c, n = g.out_c, taps = g.kernel_h * g.kernel_w, chunks = cp / kc;
  const int64_t panels = (n + kTile - 1) / kTile, block = kc * kTile;
  Scratch<bf16> packed(panels * taps * chunks * block);
#pragma omp parallel for schedule(static) if (taps * c * n > kParallelThreshold)
  for (int64_t pt = 0; pt < panels * taps; ++pt) {
    const int64_t panel = pt / taps, tap = pt % taps;
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      bf16* dst = packed.data() + ((panel * taps + tap) * chunks + chunk) * block;
      for (int64_t q = 0; q < kc / 2; ++q) {
        float pair[2][kTile];
        bf16 row[2][kTile];
        for (int e = 0; e < 2; ++e) {
          const int64_t ch = chunk * kc + 2 * q + e;
          for (int64_t j = 0; j < kTile; ++j) {
            const int64_t col = panel * kTile + j;
            pair[e][j] = ch < c && col < n ? w[(tap * c + ch) * n + col] : 0.0f;
          }
          to_bf16(pair[e], kTile, row[e]);
        }
        for (int64_t j = 0; j < kTile; ++j) dst[q * 32 + 2 * j] = row[0][j], dst[q * 32 + 2 * j + 1] = row[1][j];
      }
    }
  }
  return packed;
}

// Direct convolution on tiles, no im2col: an A tile is 16 consecutive output pixels of one output row, whose inputs
// for one tap lie at a fixed stride in the padded input (stride_w pixels apart), so the tile is loaded straight
// from it, kc channels at a time; C tiles stay in the tile registers over every tap and channel chunk.
TG_AMX_TARGET void forward_impl(const float* x, const float* w, const ConvGeometry& g, float* y,
                                const GemmEpilogue& epilogue) {
  const int64_t c = g.in_c, n = g.out_c, taps = g.kernel_h * g.kernel_w;
  const int64_t cp = c <= 16 ? 16 : round_up(c, 32), kc = std::min<int64_t>(cp, 32), chunks = cp / kc;
  const int64_t tiles_per_line = (g.out_w + kTile - 1) / kTile, m_tiles = g.lines() * tiles_per_line;
  const int64_t hp = (g.out_h - 1) * g.stride_h + (g.kernel_h - 1) * g.dilation_h + 1;
  const int64_t wp = (tiles_per_line * kTile - 1) * g.stride_w + (g.kernel_w - 1) * g.dilation_w + 1;
  const PaddedInput in = pad_input(x, g, hp, wp, cp);
  const Scratch<bf16> kernel = pack_kernel_taps(w, g, cp, kc);
  const Taps tap_offsets(g);
  std::vector<int64_t> tap_elements(static_cast<size_t>(taps));
  for (int64_t t = 0; t < taps; ++t) tap_elements[t] = (tap_offsets.dy[t] * wp + tap_offsets.dx[t]) * cp;
  const int64_t panels = (n + kTile - 1) / kTile, panel_elements = taps * chunks * kc * kTile;
  const int64_t lda = g.stride_w * cp * static_cast<int64_t>(sizeof(bf16));
  // Tasks of 8 pairs of output tiles (256 pixels): enough work per task, tasks enough to balance.
  constexpr int64_t kPairsPerTask = 8;
  const int64_t pairs = (m_tiles + 1) / 2, tasks = (pairs + kPairsPerTask - 1) / kPairsPerTask;
#pragma omp parallel if (tasks > 1)
  {
    // Tile state is per thread, configured once per thread and call.
    const TileScope tiles(static_cast<int>(kc * sizeof(bf16)));
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      alignas(64) float sums[32 * 32];
      // Each pair's two tiles of 16 output pixels: where their windows start, their first pixel, their live rows.
      const int64_t pair0 = task * kPairsPerTask, pair_end = std::min(pairs, pair0 + kPairsPerTask);
      const bf16* base[kPairsPerTask][2];
      int64_t first_pixel[kPairsPerTask][2], live_rows[kPairsPerTask][2];
      for (int64_t pair = pair0; pair < pair_end; ++pair)
        for (int r = 0; r < 2; ++r) {
          const int64_t tile = std::min(2 * pair + r, m_tiles - 1);
          const int64_t line = tile / tiles_per_line, ox0 = tile % tiles_per_line * kTile;
          const int64_t image = line / g.out_h, oy = line % g.out_h;
          base[pair - pair0][r] = in.data.data() + ((image * hp + oy * g.stride_h) * wp + ox0 * g.stride_w) * cp;
          first_pixel[pair - pair0][r] = line * g.out_w + ox0;
          live_rows[pair - pair0][r] = std::min(kTile, g.out_w - ox0);
        }
      // Panel pairs outside, pixel pairs inside: a panel pair of the kernel stays in L2 while the task's pixels
      // pass over it.
      for (int64_t cpn = 0; cpn < panels; cpn += 2) {
        const bool two_cols = cpn + 1 < panels;
        const bf16* b0 = kernel.data() + cpn * panel_elements;
        const bf16* b1 = two_cols ? b0 + panel_elements : b0;
        for (int64_t pair = pair0; pair < pair_end; ++pair) {
          const bool two_rows = 2 * pair + 1 < m_tiles;
          const bf16* const* a = base[pair - pair0];
          zero_c_tiles();
          for (int64_t t = 0; t < taps; ++t)
            for (int64_t chunk = 0; chunk < chunks; ++chunk) {
              const int64_t a_offset = tap_elements[t] + chunk * kc, b_offset = (t * chunks + chunk) * kc * kTile;
              tile_step(two_rows, two_cols, a[0] + a_offset, a[1] + a_offset, lda, b0 + b_offset, b1 + b_offset);
            }
          store_c_tiles(two_rows, two_cols, sums, 32 * sizeof(float));
          for (int r = 0; r < (two_rows ? 2 : 1); ++r)
            for (int64_t tc = 0; tc < (two_cols ? 2 : 1); ++tc) {
              const int64_t col = (cpn + tc) * kTile;
              const TileEpilogue te{epilogue.accumulate, epilogue.bias ? epilogue.bias + col : nullptr,
                                    epilogue.relu};
              store_through_epilogue(sums + r * kTile * 32 + tc * kTile, 32,
                                     y + first_pixel[pair - pair0][r] * n + col, n, live_rows[pair - pair0][r],
                                     std::min(kTile, n - col), te);
            }
        }
      }
    }
  }
}

// dy^T for pixels [p0, p0 + count) (zeros past them and past cout): [steps][n_padded][32] bfloat16.
TG_AMX_TARGET void pack_dy_transposed(const float* dy, int64_t n, int64_t n_padded, int64_t p0, int64_t count,
                                      bf16* out) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i stride = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(n)));
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t s = 0; s * 32 < count; ++s)
    for (int64_t o = 0; o < n_padded; ++o) {
      bf16* dst = out + (s * n_padded + o) * 32;
      if (o >= n) {
        std::memset(dst, 0, 64);
        continue;
      }
      __m512 half[2];
      for (int h = 0; h < 2; ++h) {
        const int64_t first = s * 32 + h * 16, live = std::clamp<int64_t>(count - first, 0, 16);
        const __mmask16 mask = static_cast<__mmask16>(live >= 16 ? 0xffff : (1u << live) - 1);
        half[h] = live > 0 ? _mm512_mask_i32gather_ps(zero, mask, stride, dy + (p0 + first) * n + o, 4) : zero;
      }
      _mm512_storeu_si512(dst, (__m512i)_mm512_cvtne2ps_pbh(half[1], half[0]));
    }
}

// Patch columns [c0, c0 + width) of pixels [p0, p0 + count) as B tiles: [steps][width / 16][16 pairs][16][2],
// rows (pixel pairs) past count zero. `rows` is scratch for two patch rows.
TG_AMX_TARGET void pack_patches_vnni(const float* x, const ConvGeometry& g, const Taps& taps, int64_t p0, int64_t count, int64_t c0,
                                     int64_t width, bf16* rows, bf16* out) {
  alignas(64) static constexpr uint16_t kInterleave[32] = {0,  16, 1,  17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                          8,  24, 9,  25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i interleave = _mm512_load_si512(kInterleave);
  const int64_t col_tiles = width / kTile;
  for (int64_t s = 0; s * 32 < count; ++s)
    for (int64_t q = 0; q < 16; ++q) {
      const int64_t pa = s * 32 + 2 * q;
      for (int e = 0; e < 2; ++e) {
        bf16* row = rows + e * width;
        if (pa + e < count) patch_row_bf16(x, g, taps, p0 + pa + e, c0, c0 + width, row);
        else std::memset(row, 0, sizeof(bf16) * static_cast<size_t>(width));
      }
      for (int64_t ct = 0; ct < col_tiles; ++ct) {
        const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + ct * kTile));
        const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + width + ct * kTile));
        const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
        _mm512_storeu_si512(out + ((s * col_tiles + ct) * 16 + q) * 32, _mm512_permutexvar_epi16(interleave, both));
      }
    }
}

TG_AMX_TARGET void kernel_grad_impl(const float* x, const float* dy, const ConvGeometry& g, float* dw,
                                    const GemmEpilogue& epilogue) {
  const int64_t n = g.out_c, k = g.patch(), pixels = g.lines() * g.out_w;
  const int64_t n_padded = round_up(n, kTile), kp = round_up(k, 32);
  // Groups of pixels (whole super-chunks), from the shape only, each summing into its own dw^T copy.
  const int64_t chunks = (pixels + kSuperChunk - 1) / kSuperChunk;
  const int64_t groups = std::clamp<int64_t>(
      std::min({chunks / 4, kMaxPartialSums, kPartialSumElements / std::max<int64_t>(n_padded * kp, 1)}), 1,
      kMaxPartialSums);
  const int64_t column_blocks = (kp + kColumnBlock - 1) / kColumnBlock, tasks = groups * column_blocks;
  Scratch<float> partial(groups * n_padded * kp);
  const int64_t ldp = kp * static_cast<int64_t>(sizeof(float));
  const Taps taps(g);
#pragma omp parallel if (tasks > 1)
  {
    // Tile state is per thread, configured once per thread and call.
    const TileScope tiles;
#pragma omp for schedule(dynamic)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t group = t / column_blocks, c0 = t % column_blocks * kColumnBlock;
      const int64_t width = std::min(kColumnBlock, kp - c0);
      const int64_t first_chunk = chunks * group / groups, end_chunk = chunks * (group + 1) / groups;
      thread_local std::vector<bf16> a, b, rows;
      a.resize(static_cast<size_t>(kSuperChunk * n_padded));
      b.resize(static_cast<size_t>(kSuperChunk * width));
      rows.resize(static_cast<size_t>(2 * width));
      float* out = partial.data() + group * n_padded * kp + c0;
      for (int64_t chunk = first_chunk; chunk < end_chunk; ++chunk) {
        const int64_t p0 = chunk * kSuperChunk, count = std::min(kSuperChunk, pixels - p0), steps = (count + 31) / 32;
        pack_dy_transposed(dy, n, n_padded, p0, count, a.data());
        pack_patches_vnni(x, g, taps, p0, count, c0, width, rows.data(), b.data());
        for (int64_t r0 = 0; r0 < n_padded; r0 += 32) {
          const bool two_rows = r0 + 16 < n_padded;
          for (int64_t j0 = 0; j0 < width; j0 += 32) {
            const bool two_cols = j0 + 16 < width;
            float* c = out + r0 * kp + j0;
            if (chunk == first_chunk) zero_c_tiles();
            else load_c_tiles(two_rows, two_cols, c, ldp);
            const bf16* b0 = b.data() + (j0 / kTile) * 16 * 32;
            run_tiles(two_rows, two_cols, steps, a.data() + r0 * 32, a.data() + (r0 + 16) * 32, 64, n_padded * 32, b0,
                      b0 + 16 * 32,
                      (width / kTile) * 16 * 32);
            store_c_tiles(two_rows, two_cols, c, ldp);
          }
        }
      }
      if (first_chunk == end_chunk)  // a group with no pixels (not reached: groups <= chunks) still defines its sums
        for (int64_t r = 0; r < n_padded; ++r) std::fill_n(out + r * kp, width, 0.0f);
    }
  }
  // dw[kk, o] (+)= sum over groups, in group order, of dw^T[o, kk].
#pragma omp parallel for schedule(static) if (k * n * groups > kParallelThreshold)
  for (int64_t kk = 0; kk < k; ++kk)
    for (int64_t o = 0; o < n; ++o) {
      float total = 0;
      for (int64_t group = 0; group < groups; ++group) total += partial.data()[(group * n_padded + o) * kp + kk];
      dw[kk * n + o] = epilogue.accumulate ? dw[kk * n + o] + total : total;
    }
}

// Transposes 16 rows of 16 floats in registers: r[j][i] becomes r[i][j].
TG_AMX_TARGET inline void transpose_16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) {
      t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
      t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
    }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
  }
}

// The kernel gradient without im2col, for stride_w == 1: dw[tap, ch, o] = sum over output pixels of
// x_padded[row of (oy, tap)][ox + dx(tap), ch] * dy[pixel, o]. An A tile is 16 channels x 32 consecutive output
// pixels, loaded from a channel-major copy of each padded input row; a B tile is those 32 pixels in pairs x 16
// output channels, from a pair-interleaved copy of dy made once per call; the C tiles (16 channels x 16 outputs of
// one tap) stay in the tile registers over every pixel of a group.
TG_AMX_TARGET void kernel_grad_direct(const float* x, const float* dy, const ConvGeometry& g, float* dw,
                                      const GemmEpilogue& epilogue) {
  const int64_t c = g.in_c, n = g.out_c, taps = g.kernel_h * g.kernel_w, lines = g.lines();
  const int64_t cq = round_up(c, kTile), panels = (n + kTile - 1) / kTile, n_padded = panels * kTile;
  const int64_t chunks = (g.out_w + 31) / 32;
  const int64_t hp = (g.out_h - 1) * g.stride_h + (g.kernel_h - 1) * g.dilation_h + 1;
  const int64_t wq = chunks * 32 + (g.kernel_w - 1) * g.dilation_w;
  // The padded input, channel-major per row: [batch][hp][cq][wq].
  Scratch<bf16> xt(g.batch * hp * cq * wq);
#pragma omp parallel for schedule(static) if (g.batch * hp * cq * wq > kParallelThreshold)
  for (int64_t row = 0; row < g.batch * hp; ++row) {
    const int64_t image = row / hp, iy = row % hp - g.pad_top;
    bf16* dst = xt.data() + row * cq * wq;
    if (iy < 0 || iy >= g.in_h) {
      std::memset(dst, 0, sizeof(bf16) * static_cast<size_t>(cq * wq));
      continue;
    }
    const float* src = x + (image * g.in_h + iy) * g.in_w * c;
    // Blocks of 16 pixels x 16 channels, transposed in registers; pixels outside the row and channels past c load
    // as zeros.
    for (int64_t col0 = 0; col0 < wq; col0 += 16) {
      const __mmask16 store = static_cast<__mmask16>(col0 + 16 <= wq ? 0xffff : (1u << (wq - col0)) - 1);
      for (int64_t ch0 = 0; ch0 < cq; ch0 += 16) {
        const __mmask16 channels = static_cast<__mmask16>(c - ch0 >= 16 ? 0xffff : (1u << (c - ch0)) - 1);
        __m512 r[16];
        for (int64_t i = 0; i < 16; ++i) {
          const int64_t ix = col0 + i - g.pad_left;
          r[i] = ix >= 0 && ix < g.in_w ? _mm512_maskz_loadu_ps(channels, src + ix * c + ch0) : _mm512_setzero_ps();
        }
        transpose_16x16(r);
        for (int64_t j = 0; j < 16; ++j)
          _mm256_mask_storeu_epi16(dst + (ch0 + j) * wq + col0, store, (__m256i)_mm512_cvtneps_pbh(r[j]));
      }
    }
  }
  // dy pair-interleaved: [lines][chunks][panels][16 pairs][16 outputs][2], zeros past out_w and n.
  Scratch<bf16> dyv(lines * chunks * panels * 512);
  alignas(64) static constexpr uint16_t kInterleave[32] = {0,  16, 1,  17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                          8,  24, 9,  25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
#pragma omp parallel for schedule(static) if (lines * g.out_w * n > kParallelThreshold)
  for (int64_t line = 0; line < lines; ++line) {
    const __m512i interleave = _mm512_load_si512(kInterleave);
    for (int64_t chunk = 0; chunk < chunks; ++chunk)
      for (int64_t pn = 0; pn < panels; ++pn) {
        const int64_t live_cols = std::min(kTile, n - pn * kTile);
        const __mmask16 cols = static_cast<__mmask16>(live_cols >= 16 ? 0xffff : (1u << live_cols) - 1);
        bf16* out = dyv.data() + ((line * chunks + chunk) * panels + pn) * 512;
        for (int64_t q = 0; q < 16; ++q) {
          __m512 v[2];
          for (int e = 0; e < 2; ++e) {
            const int64_t ox = chunk * 32 + 2 * q + e;
            v[e] = ox < g.out_w ? _mm512_maskz_loadu_ps(cols, dy + (line * g.out_w + ox) * n + pn * kTile)
                                : _mm512_setzero_ps();
          }
          const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(v[1], v[0]);  // pixel 2q in the low half
          _mm512_storeu_si512(out + q * 32, _mm512_permutexvar_epi16(interleave, both));
        }
      }
  }
  // A row unit is one tap's 16-channel tile; units are paired for the two A tiles (across taps where a layer has
  // 16 channels or fewer), so that two C tiles (four with two panels) accumulate side by side.
  const Taps tap_offsets(g);
  const int64_t channel_tiles = cq / kTile, units = taps * channel_tiles;
  const int64_t unit_pairs = (units + 1) / 2, panel_pairs = (panels + 1) / 2;
  const int64_t dw_padded = taps * cq * n_padded;
  const int64_t groups = std::clamp<int64_t>(
      std::min({lines * g.out_w / kMinGroupPixels, kMaxPartialSums, kPartialSumElements / std::max<int64_t>(dw_padded, 1)}), 1,
      kMaxPartialSums);
  Scratch<float> partial(groups * dw_padded);
  const int64_t tasks = groups * unit_pairs * panel_pairs;
  const int64_t lda = wq * static_cast<int64_t>(sizeof(bf16));
#pragma omp parallel if (tasks > 1)
  {
    // Tile state is per thread, configured once per thread and call.
    const TileScope tiles;
#pragma omp for schedule(dynamic)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t group = t / (unit_pairs * panel_pairs), rest = t % (unit_pairs * panel_pairs);
      const int64_t u0 = rest / panel_pairs * 2, pn = rest % panel_pairs * 2;
      const bool two_rows = u0 + 1 < units, two_cols = pn + 1 < panels;
      // Unit u: tap u / channel_tiles, channels from u % channel_tiles * 16; its offset in a padded row block.
      int64_t unit_row[2], unit_offset[2];
      for (int r = 0; r < 2; ++r) {
        const int64_t u = two_rows || r == 0 ? u0 + r : u0, tap = u / channel_tiles;
        unit_row[r] = tap_offsets.dy[tap];
        unit_offset[r] = u % channel_tiles * kTile * wq + tap_offsets.dx[tap];
      }
      zero_c_tiles();
      for (int64_t line = lines * group / groups; line < lines * (group + 1) / groups; ++line) {
        const int64_t image = line / g.out_h, oy = line % g.out_h, row = image * hp + oy * g.stride_h;
        const bf16* a0 = xt.data() + (row + unit_row[0]) * cq * wq + unit_offset[0];
        const bf16* a1 = xt.data() + (row + unit_row[1]) * cq * wq + unit_offset[1];
        const bf16* b0 = dyv.data() + (line * chunks * panels + pn) * 512;
        run_tiles(two_rows, two_cols, chunks, a0, a1, lda, 32, b0, b0 + 512, panels * 512);
      }
      // C tile (r, c) holds unit u0 + r, output panel pn + c.
      alignas(64) float sums[32 * 32];
      store_c_tiles(two_rows, two_cols, sums, 32 * sizeof(float));
      for (int r = 0; r < (two_rows ? 2 : 1); ++r) {
        const int64_t u = u0 + r, tap = u / channel_tiles, ch0 = u % channel_tiles * kTile;
        float* out = partial.data() + group * dw_padded + (tap * cq + ch0) * n_padded + pn * kTile;
        for (int64_t q = 0; q < kTile; ++q)
          std::copy_n(sums + (r * kTile + q) * 32, (two_cols ? 2 : 1) * kTile, out + q * n_padded);
      }
    }
  }
  // dw[tap, ch, o] (+)= the groups' sums, added in group order.
#pragma omp parallel for schedule(static) if (taps * c * n * groups > kParallelThreshold)
  for (int64_t tc = 0; tc < taps * c; ++tc) {
    const int64_t tap = tc / c, ch = tc % c;
    for (int64_t o = 0; o < n; ++o) {
      float total = 0;
      for (int64_t group = 0; group < groups; ++group) total += partial.data()[group * dw_padded + (tap * cq + ch) * n_padded + o];
      float& out = dw[tc * n + o];
      out = epilogue.accumulate ? out + total : total;
    }
  }
}

}  // namespace

bool use_amx_bf16(const ConvGeometry& g) {
  if (conv_precision() != ConvPrecision::bf16) return false;
  // Layers of fewer than 4 input channels (a grey or RGB image's first convolution) would multiply mostly zero
  // channels in 16-channel tiles, and the 1x1 output layer is memory-bound: their float32 kernels stay.
  return g.in_c >= kMinChannels && !pointwise_few_outputs_applies(g);
}

void amx_conv_forward(const float* x, const float* w, const ConvGeometry& g, float* y, const GemmEpilogue& epilogue) {
  if (!amx_bf16_available()) throw std::logic_error("amx_conv_forward called on a CPU without AMX-BF16");
  if (g.lines() * g.out_w <= 0 || g.out_c <= 0) return;
  if (g.patch() == 0) return apply_epilogue_only(g.lines() * g.out_w, g.out_c, y, g.out_c, epilogue);
  forward_impl(x, w, g, y, epilogue);
}

void amx_conv_kernel_grad(const float* x, const float* dy, const ConvGeometry& g, float* dw,
                          const GemmEpilogue& epilogue) {
  if (!amx_bf16_available()) throw std::logic_error("amx_conv_kernel_grad called on a CPU without AMX-BF16");
  if (epilogue.bias || epilogue.relu)
    throw std::invalid_argument("amx_conv_kernel_grad: a kernel gradient takes only the accumulate epilogue");
  const int64_t k = g.patch(), n = g.out_c;
  if (k <= 0 || n <= 0) return;
  if (g.lines() * g.out_w == 0) return apply_epilogue_only(k, n, dw, n, epilogue);
  if (g.stride_w == 1) return kernel_grad_direct(x, dy, g, dw, epilogue);
  kernel_grad_impl(x, dy, g, dw, epilogue);
}

}  // namespace tg::kernels

namespace tg {

ConvPrecision parse_conv_precision(const std::string& value, const std::string& what) {
  if (value == "float32") return ConvPrecision::float32;
  if (value == "bf16") return ConvPrecision::bf16;
  throw std::runtime_error(what + "='" + value + "' is not one of float32, bf16");
}

const char* conv_precision_name(ConvPrecision precision) {
  return precision == ConvPrecision::bf16 ? "bf16" : "float32";
}

ConvPrecision conv_precision() { return kernels::precision_slot().load(std::memory_order_relaxed); }

void set_conv_precision(ConvPrecision precision) {
  std::string why;
  if (precision == ConvPrecision::bf16 && !amx_bf16_available(&why))
    throw std::runtime_error("bf16 convolutions need Intel AMX: " + why);
  kernels::precision_slot().store(precision, std::memory_order_relaxed);
}

bool amx_bf16_available(std::string* why) {
  const kernels::Availability& a = kernels::availability();
  if (!a.ok && why) *why = a.why;
  return a.ok;
}

}  // namespace tg
