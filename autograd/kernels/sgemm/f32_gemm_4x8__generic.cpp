// The portable float32 micro-kernel: plain C++ that the compiler vectorises for whatever the build targets (SSE2 on
// baseline x86-64): 8 accumulator vectors of 4 floats fit the 16 SSE registers beside B's two and A's broadcast.
#include "autograd/kernels/sgemm_ukernel.h"

namespace tg::kernels {

void f32_gemm_4x8__generic(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t rows,
                           int64_t cols, const TileEpilogue& epilogue) {
  constexpr int64_t kRows = 4, kCols = 8;
  float sums[kRows * kCols] = {};
  for (int64_t k = 0; k < kc; ++k, a += kRows, b += kCols)
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t j = 0; j < kCols; ++j) sums[r * kCols + j] += a[r] * b[j];
  store_tile_scalar(sums, kCols, c, ldc, rows, cols, epilogue);
}

void f32_igemm_4x8__generic(int64_t taps, int64_t channels, const float* const* a, const float* b, float* c,
                            int64_t ldc, int64_t rows, int64_t cols, const TileEpilogue& epilogue) {
  constexpr int64_t kRows = 4, kCols = 8;
  float sums[kRows * kCols] = {};
  for (int64_t t = 0; t < taps; ++t, a += kRows)
    for (int64_t k = 0; k < channels; ++k, b += kCols)
      for (int64_t r = 0; r < kRows; ++r)
        for (int64_t j = 0; j < kCols; ++j) sums[r * kCols + j] += a[r][k] * b[j];
  store_tile_scalar(sums, kCols, c, ldc, rows, cols, epilogue);
}

void f32_outer_4x8__generic(int64_t pixels, const float* const* a, int64_t offset, const float* b, float* c,
                            int64_t ldc, int64_t rows, int64_t cols, const TileEpilogue& epilogue) {
  constexpr int64_t kRows = 4, kCols = 8;
  float sums[kRows * kCols] = {};
  for (int64_t p = 0; p < pixels; ++p, b += kCols) {
    const float* ap = a[p] + offset;
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t j = 0; j < kCols; ++j) sums[r * kCols + j] += ap[r] * b[j];
  }
  store_tile_scalar(sums, kCols, c, ldc, rows, cols, epilogue);
}

}  // namespace tg::kernels
