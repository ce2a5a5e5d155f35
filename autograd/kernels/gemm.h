// The matrix-multiply kernel every op's products reach (conv forward, both conv backward passes, matmul), the seam
// that performance work re-implements or re-routes without touching the ops.
// Row-major: C[M, N] = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T; ld* are row strides. Serial.
// float32 runs the packed micro-kernels of packed_gemm.h (the CPU's best ISA, chosen at run time, or TAPEGRAD_ISA);
// their blocking depends only on the shape and the ISA, so a product rounds the same on any thread count. With
// beta = 0, C is only written, never read.
// float64 (gradcheck's precision) maps onto Eigen, which chooses its blocking, and so its rounding, from the number of
// threads: ops call it either inside their own parallel regions (one serial product per tile) or through gemm_tiled
// (tiled_gemm.h), whose result is bitwise the same for any thread count, which exact resume depends on.
#pragma once
#include <cstdint>

namespace tg::kernels {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

}  // namespace tg::kernels
