// 14x32 float32 micro-kernel for AVX-512F: 28 accumulators, B's two vectors and A's broadcast fill 31 of the 32 ZMM
// registers; per k, 2 loads of B, 14 broadcasts of A and 28 FMAs. Compiled through a target attribute, so it is in
// every x86-64 build, and run only where cpu_supports(Isa::avx512).
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h (_mm512_undefined_ps), as for Eigen in gemm.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "autograd/kernels/sgemm_ukernel.h"

namespace tg::kernels {

namespace {
constexpr int kAvx512Rows = 14;

// One k step of the tile: B's two vectors of the step times the broadcast of each row's A value, a(r).
template <class RowValue>
__attribute__((target("avx512f"), always_inline)) inline void avx512_fma_step(const float* b, RowValue&& a, __m512* lo, __m512* hi) {
  const __m512 b_lo = _mm512_load_ps(b), b_hi = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
  for (int r = 0; r < kAvx512Rows; ++r) {
    const __m512 ar = _mm512_set1_ps(*a(r));
    lo[r] = _mm512_fmadd_ps(ar, b_lo, lo[r]);
    hi[r] = _mm512_fmadd_ps(ar, b_hi, hi[r]);
  }
}

// Stores the tile's sums through the epilogue: vector stores for a full tile, the scalar path at the edges of C.
__attribute__((target("avx512f"), always_inline)) inline void avx512_store_tile(__m512* lo, __m512* hi, float* c, int64_t ldc,
                                                                   int64_t rows, int64_t cols,
                                                                   const TileEpilogue& epilogue) {
  if (rows == kAvx512Rows && cols == 32) {
    const __m512 zero = _mm512_setzero_ps();
    const __m512 bias_lo = epilogue.bias ? _mm512_loadu_ps(epilogue.bias) : zero;
    const __m512 bias_hi = epilogue.bias ? _mm512_loadu_ps(epilogue.bias + 16) : zero;
#pragma GCC unroll 14
    for (int r = 0; r < kAvx512Rows; ++r) {
      float* cr = c + r * ldc;
      __m512 v_lo = lo[r], v_hi = hi[r];
      if (epilogue.accumulate) v_lo = _mm512_add_ps(_mm512_loadu_ps(cr), v_lo), v_hi = _mm512_add_ps(_mm512_loadu_ps(cr + 16), v_hi);
      if (epilogue.bias) v_lo = _mm512_add_ps(v_lo, bias_lo), v_hi = _mm512_add_ps(v_hi, bias_hi);
      // max(0, v), not max(v, 0): maxps returns its second operand for a NaN and for equal zeros, so NaN and -0
      // pass through as in the relu op.
      if (epilogue.relu) v_lo = _mm512_max_ps(zero, v_lo), v_hi = _mm512_max_ps(zero, v_hi);
      _mm512_storeu_ps(cr, v_lo);
      _mm512_storeu_ps(cr + 16, v_hi);
    }
    return;
  }
  alignas(64) float sums[kAvx512Rows * 32];
#pragma GCC unroll 14
  for (int r = 0; r < kAvx512Rows; ++r) _mm512_store_ps(sums + r * 32, lo[r]), _mm512_store_ps(sums + r * 32 + 16, hi[r]);
  store_tile_scalar(sums, 32, c, ldc, rows, cols, epilogue);
}
}  // namespace

__attribute__((target("avx512f"))) void f32_gemm_14x32__avx512f(int64_t kc, const float* a, const float* b, float* c,
                                                 int64_t ldc, int64_t rows, int64_t cols, const TileEpilogue& epilogue) {
  __m512 lo[kAvx512Rows] = {}, hi[kAvx512Rows] = {};
  for (int64_t k = 0; k < kc; ++k, a += kAvx512Rows, b += 32) avx512_fma_step(b, [a](int r) { return a + r; }, lo, hi);
  avx512_store_tile(lo, hi, c, ldc, rows, cols, epilogue);
}

__attribute__((target("avx512f"))) void f32_igemm_14x32__avx512f(int64_t taps, int64_t channels, const float* const* a,
                                                  const float* b, float* c, int64_t ldc, int64_t rows, int64_t cols,
                                                  const TileEpilogue& epilogue) {
  __m512 lo[kAvx512Rows] = {}, hi[kAvx512Rows] = {};
  for (int64_t t = 0; t < taps; ++t, a += kAvx512Rows) {
    const float* row[kAvx512Rows];
    std::copy_n(a, kAvx512Rows, row);
    for (int64_t k = 0; k < channels; ++k, b += 32) avx512_fma_step(b, [&row, k](int r) { return row[r] + k; }, lo, hi);
  }
  avx512_store_tile(lo, hi, c, ldc, rows, cols, epilogue);
}

__attribute__((target("avx512f"))) void f32_outer_14x32__avx512f(int64_t pixels, const float* const* a, int64_t offset,
                                                  const float* b, float* c, int64_t ldc, int64_t rows, int64_t cols,
                                                  const TileEpilogue& epilogue) {
  __m512 lo[kAvx512Rows] = {}, hi[kAvx512Rows] = {};
  for (int64_t p = 0; p < pixels; ++p, b += 32) {
    const float* ap = a[p] + offset;
    avx512_fma_step(b, [ap](int r) { return ap + r; }, lo, hi);
  }
  avx512_store_tile(lo, hi, c, ldc, rows, cols, epilogue);
}

}  // namespace tg::kernels
