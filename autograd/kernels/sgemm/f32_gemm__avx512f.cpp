// float32 micro-kernels for AVX-512F, in two tiles from one template:
//   14x32: 28 accumulators, B's two vectors and A's broadcast fill 31 of the 32 ZMM registers; per k, 2 loads of B,
//          14 broadcasts of A and 28 FMAs. The kernel for 17 or more output columns.
//   16x16: 16 accumulators and B's one vector; per k, 1 load of B, 16 broadcasts and 16 FMAs. For layers of 16 or
//          fewer output channels (a U-Net's first and last level), where the 14x32 tile would multiply zero columns
//          for half its FMAs.
// Compiled through a target attribute, so they are in every x86-64 build, and run only where cpu_supports(Isa::avx512).
// GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h (_mm512_undefined_ps), as for Eigen in gemm.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "autograd/kernels/sgemm_ukernel.h"

namespace tg::kernels {

namespace {
// Rows x (16 * Vecs) accumulators, acc[v * Rows + r] holding row r's columns 16 v .. 16 v + 15.
template <int Rows, int Vecs>
struct Tile {
  __m512 acc[Rows * Vecs];
};

// One k step of the tile: B's vectors of the step times the broadcast of each row's A value, a(r).
template <int Rows, int Vecs, class RowValue>
__attribute__((target("avx512f"), always_inline)) inline void fma_step(const float* b, RowValue&& a, Tile<Rows, Vecs>& t) {
  __m512 bv[Vecs];
#pragma GCC unroll 2
  for (int v = 0; v < Vecs; ++v) bv[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r) {
    const __m512 ar = _mm512_set1_ps(*a(r));
#pragma GCC unroll 2
    for (int v = 0; v < Vecs; ++v) t.acc[v * Rows + r] = _mm512_fmadd_ps(ar, bv[v], t.acc[v * Rows + r]);
  }
}

// Stores the tile's sums through the epilogue: vector stores for a full tile, the scalar path at the edges of C.
template <int Rows, int Vecs>
__attribute__((target("avx512f"), always_inline)) inline void store_tile(Tile<Rows, Vecs>& t, float* c, int64_t ldc,
                                                                          int64_t rows, int64_t cols,
                                                                          const TileEpilogue& epilogue) {
  constexpr int kCols = 16 * Vecs;
  if (rows == Rows && cols == kCols) {
    const __m512 zero = _mm512_setzero_ps();
    __m512 bias[Vecs];
#pragma GCC unroll 2
    for (int v = 0; v < Vecs; ++v) bias[v] = epilogue.bias ? _mm512_loadu_ps(epilogue.bias + 16 * v) : zero;
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      float* cr = c + r * ldc;
#pragma GCC unroll 2
      for (int v = 0; v < Vecs; ++v) {
        __m512 s = t.acc[v * Rows + r];
        if (epilogue.accumulate) s = _mm512_add_ps(_mm512_loadu_ps(cr + 16 * v), s);
        if (epilogue.bias) s = _mm512_add_ps(s, bias[v]);
        // max(0, v), not max(v, 0): maxps returns its second operand for a NaN and for equal zeros, so NaN and -0
        // pass through as in the relu op.
        if (epilogue.relu) s = _mm512_max_ps(zero, s);
        _mm512_storeu_ps(cr + 16 * v, s);
      }
    }
    return;
  }
  alignas(64) float sums[Rows * kCols];
#pragma GCC unroll 16
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < Vecs; ++v) _mm512_store_ps(sums + r * kCols + 16 * v, t.acc[v * Rows + r]);
  store_tile_scalar(sums, kCols, c, ldc, rows, cols, epilogue);
}

template <int Rows, int Vecs>
__attribute__((target("avx512f"), always_inline)) inline void gemm(int64_t kc, const float* a, const float* b, float* c,
                                                                    int64_t ldc, int64_t rows, int64_t cols,
                                                                    const TileEpilogue& epilogue) {
  Tile<Rows, Vecs> t;
  for (__m512& v : t.acc) v = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k, a += Rows, b += 16 * Vecs) fma_step(b, [a](int r) { return a + r; }, t);
  store_tile(t, c, ldc, rows, cols, epilogue);
}

template <int Rows, int Vecs>
__attribute__((target("avx512f"), always_inline)) inline void igemm(int64_t taps, int64_t channels, const float* const* a,
                                                                     const float* b, float* c, int64_t ldc, int64_t rows,
                                                                     int64_t cols, const TileEpilogue& epilogue) {
  Tile<Rows, Vecs> t;
  for (__m512& v : t.acc) v = _mm512_setzero_ps();
  for (int64_t tap = 0; tap < taps; ++tap, a += Rows) {
    const float* row[Rows];
    std::copy_n(a, Rows, row);
    for (int64_t k = 0; k < channels; ++k, b += 16 * Vecs) fma_step(b, [&row, k](int r) { return row[r] + k; }, t);
  }
  store_tile(t, c, ldc, rows, cols, epilogue);
}

template <int Rows, int Vecs>
__attribute__((target("avx512f"), always_inline)) inline void outer(int64_t pixels, const float* const* a, int64_t offset,
                                                                     const float* b, float* c, int64_t ldc, int64_t rows,
                                                                     int64_t cols, const TileEpilogue& epilogue) {
  Tile<Rows, Vecs> t;
  for (__m512& v : t.acc) v = _mm512_setzero_ps();
  for (int64_t p = 0; p < pixels; ++p, b += 16 * Vecs) {
    const float* ap = a[p] + offset;
    fma_step(b, [ap](int r) { return ap + r; }, t);
  }
  store_tile(t, c, ldc, rows, cols, epilogue);
}
}  // namespace

__attribute__((target("avx512f"))) void f32_gemm_14x32__avx512f(int64_t kc, const float* a, const float* b, float* c,
                                                                 int64_t ldc, int64_t rows, int64_t cols,
                                                                 const TileEpilogue& epilogue) {
  gemm<14, 2>(kc, a, b, c, ldc, rows, cols, epilogue);
}
__attribute__((target("avx512f"))) void f32_igemm_14x32__avx512f(int64_t taps, int64_t channels, const float* const* a,
                                                                  const float* b, float* c, int64_t ldc, int64_t rows,
                                                                  int64_t cols, const TileEpilogue& epilogue) {
  igemm<14, 2>(taps, channels, a, b, c, ldc, rows, cols, epilogue);
}
__attribute__((target("avx512f"))) void f32_outer_14x32__avx512f(int64_t pixels, const float* const* a, int64_t offset,
                                                                  const float* b, float* c, int64_t ldc, int64_t rows,
                                                                  int64_t cols, const TileEpilogue& epilogue) {
  outer<14, 2>(pixels, a, offset, b, c, ldc, rows, cols, epilogue);
}

__attribute__((target("avx512f"))) void f32_gemm_16x16__avx512f(int64_t kc, const float* a, const float* b, float* c,
                                                                 int64_t ldc, int64_t rows, int64_t cols,
                                                                 const TileEpilogue& epilogue) {
  gemm<16, 1>(kc, a, b, c, ldc, rows, cols, epilogue);
}
__attribute__((target("avx512f"))) void f32_igemm_16x16__avx512f(int64_t taps, int64_t channels, const float* const* a,
                                                                  const float* b, float* c, int64_t ldc, int64_t rows,
                                                                  int64_t cols, const TileEpilogue& epilogue) {
  igemm<16, 1>(taps, channels, a, b, c, ldc, rows, cols, epilogue);
}
__attribute__((target("avx512f"))) void f32_outer_16x16__avx512f(int64_t pixels, const float* const* a, int64_t offset,
                                                                  const float* b, float* c, int64_t ldc, int64_t rows,
                                                                  int64_t cols, const TileEpilogue& epilogue) {
  outer<16, 1>(pixels, a, offset, b, c, ldc, rows, cols, epilogue);
}

}  // namespace tg::kernels
