// 6x16 float32 micro-kernel for AVX2 + FMA: 12 accumulators, B's two vectors and A's broadcast fill 15 of the 16 YMM
// registers; per k, 2 loads of B, 6 broadcasts of A and 12 FMAs (Zen 3 and Haswell on: 2 FMA ports, 2 load ports).
#include <immintrin.h>

#include <algorithm>

#include "autograd/kernels/sgemm_ukernel.h"

namespace tg::kernels {

namespace {
constexpr int kAvx2Rows = 6;

// One k step of the tile: B's two vectors of the step times the broadcast of each row's A value, a(r).
template <class RowValue>
__attribute__((target("avx2,fma"), always_inline)) inline void avx2_fma_step(const float* b, RowValue&& a, __m256* lo, __m256* hi) {
  const __m256 b_lo = _mm256_load_ps(b), b_hi = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
  for (int r = 0; r < kAvx2Rows; ++r) {
    const __m256 ar = _mm256_broadcast_ss(a(r));
    lo[r] = _mm256_fmadd_ps(ar, b_lo, lo[r]);
    hi[r] = _mm256_fmadd_ps(ar, b_hi, hi[r]);
  }
}

// Stores the tile's sums through the epilogue: vector stores for a full tile, the scalar path at the edges of C.
__attribute__((target("avx2,fma"), always_inline)) inline void avx2_store_tile(__m256* lo, __m256* hi, float* c, int64_t ldc,
                                                                   int64_t rows, int64_t cols,
                                                                   const TileEpilogue& epilogue) {
  if (rows == kAvx2Rows && cols == 16) {
    const __m256 zero = _mm256_setzero_ps();
    const __m256 bias_lo = epilogue.bias ? _mm256_loadu_ps(epilogue.bias) : zero;
    const __m256 bias_hi = epilogue.bias ? _mm256_loadu_ps(epilogue.bias + 8) : zero;
#pragma GCC unroll 6
    for (int r = 0; r < kAvx2Rows; ++r) {
      float* cr = c + r * ldc;
      __m256 v_lo = lo[r], v_hi = hi[r];
      if (epilogue.accumulate) v_lo = _mm256_add_ps(_mm256_loadu_ps(cr), v_lo), v_hi = _mm256_add_ps(_mm256_loadu_ps(cr + 8), v_hi);
      if (epilogue.bias) v_lo = _mm256_add_ps(v_lo, bias_lo), v_hi = _mm256_add_ps(v_hi, bias_hi);
      // max(0, v), not max(v, 0): maxps returns its second operand for a NaN and for equal zeros, so NaN and -0
      // pass through as in the relu op.
      if (epilogue.relu) v_lo = _mm256_max_ps(zero, v_lo), v_hi = _mm256_max_ps(zero, v_hi);
      _mm256_storeu_ps(cr, v_lo);
      _mm256_storeu_ps(cr + 8, v_hi);
    }
    return;
  }
  alignas(32) float sums[kAvx2Rows * 16];
#pragma GCC unroll 6
  for (int r = 0; r < kAvx2Rows; ++r) _mm256_store_ps(sums + r * 16, lo[r]), _mm256_store_ps(sums + r * 16 + 8, hi[r]);
  store_tile_scalar(sums, 16, c, ldc, rows, cols, epilogue);
}
}  // namespace

__attribute__((target("avx2,fma"))) void f32_gemm_6x16__avx2_fma(int64_t kc, const float* a, const float* b, float* c,
                                                 int64_t ldc, int64_t rows, int64_t cols, const TileEpilogue& epilogue) {
  __m256 lo[kAvx2Rows] = {}, hi[kAvx2Rows] = {};
  for (int64_t k = 0; k < kc; ++k, a += kAvx2Rows, b += 16) avx2_fma_step(b, [a](int r) { return a + r; }, lo, hi);
  avx2_store_tile(lo, hi, c, ldc, rows, cols, epilogue);
}

__attribute__((target("avx2,fma"))) void f32_igemm_6x16__avx2_fma(int64_t taps, int64_t channels, const float* const* a,
                                                  const float* b, float* c, int64_t ldc, int64_t rows, int64_t cols,
                                                  const TileEpilogue& epilogue) {
  __m256 lo[kAvx2Rows] = {}, hi[kAvx2Rows] = {};
  for (int64_t t = 0; t < taps; ++t, a += kAvx2Rows) {
    const float* row[kAvx2Rows];
    std::copy_n(a, kAvx2Rows, row);
    for (int64_t k = 0; k < channels; ++k, b += 16) avx2_fma_step(b, [&row, k](int r) { return row[r] + k; }, lo, hi);
  }
  avx2_store_tile(lo, hi, c, ldc, rows, cols, epilogue);
}

__attribute__((target("avx2,fma"))) void f32_outer_6x16__avx2_fma(int64_t pixels, const float* const* a, int64_t offset,
                                                  const float* b, float* c, int64_t ldc, int64_t rows, int64_t cols,
                                                  const TileEpilogue& epilogue) {
  __m256 lo[kAvx2Rows] = {}, hi[kAvx2Rows] = {};
  for (int64_t p = 0; p < pixels; ++p, b += 16) {
    const float* ap = a[p] + offset;
    avx2_fma_step(b, [ap](int r) { return ap + r; }, lo, hi);
  }
  avx2_store_tile(lo, hi, c, ldc, rows, cols, epilogue);
}

}  // namespace tg::kernels
