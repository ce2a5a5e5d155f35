// A GEMM whose result does not depend on the thread count.
//
// Eigen's own parallel GEMM picks its blocking from the number of threads, which changes the order of the K
// reduction and hence the rounding (measured: with 1 and 2 threads most elements of a 7168x576 * 576x64 product
// differ in the last bits). gemm_tiled cuts C into tiles whose sizes depend only on (m, n, k), runs the tiles in
// parallel, and computes each with a serial call of kernels::gemm, so every element is summed the same way on any
// machine. Called inside a parallel region it runs its tiles in the calling thread.
#pragma once
#include <cstdint>

namespace tg::kernels {

template <class T>
void gemm_tiled(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// Makes Eigen run serially in the calling thread for the rest of the enclosing parallel region. The thread-count
// setting is scoped to the region's task, so nothing outside the region changes. Without it Eigen goes parallel
// (with thread-dependent blocking) whenever the enclosing region has a single thread.
void serial_eigen_in_this_region();

// The column block gemm_tiled uses for an n-column product; callers that tile by hand use the same split.
int64_t gemm_tile_cols(int64_t n);

}  // namespace tg::kernels
