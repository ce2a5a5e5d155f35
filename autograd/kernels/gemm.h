// The one matrix-multiply entry point every op uses (conv forward, both conv backward passes, matmul).
// Row-major: C[M, N] = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T; ld* are row strides.
// Today it maps onto Eigen's GEMM (OpenMP-parallel over output blocks, so the K reduction order, and hence
// the result, does not depend on the thread count); performance work can re-route it without touching ops.
#pragma once
#include <cstdint>

namespace tg::kernels {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

}  // namespace tg::kernels
