#include "autograd/kernels/tiled_gemm.h"

#include <omp.h>

#include <algorithm>

#include "autograd/kernels/gemm.h"

namespace tg::kernels {

namespace {
// About 32 row tiles when there is room, each at least 64 rows (a multiple of 16, Eigen's register blocking).
int64_t tile_rows(int64_t m) { return std::clamp<int64_t>(((m + 31) / 32 + 15) & ~int64_t(15), 64, 512); }
}  // namespace

void serial_eigen_in_this_region() { omp_set_num_threads(1); }

int64_t gemm_tile_cols(int64_t n) { return n <= 768 ? std::max<int64_t>(n, 1) : 384; }

template <class T>
void gemm_tiled(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  const int64_t tm = tile_rows(m), tn = gemm_tile_cols(n);
  const int64_t row_tiles = (m + tm - 1) / tm, col_tiles = (n + tn - 1) / tn;
  const int64_t tiles = row_tiles * col_tiles;
#pragma omp parallel if (tiles > 1 && !omp_in_parallel())
  {
    serial_eigen_in_this_region();
#pragma omp for schedule(dynamic)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t i0 = (t / col_tiles) * tm, j0 = (t % col_tiles) * tn;
      const int64_t mi = std::min(tm, m - i0), nj = std::min(tn, n - j0);
      const T* at = trans_a ? a + i0 : a + i0 * lda;  // op(A) rows i0..: columns of an a stored [k, m]
      const T* bt = trans_b ? b + j0 * ldb : b + j0;
      gemm(trans_a, trans_b, mi, nj, k, alpha, at, lda, bt, ldb, beta, c + i0 * ldc + j0, ldc);
    }
  }
}

template void gemm_tiled<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                                int64_t, float, float*, int64_t);
template void gemm_tiled<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                 const double*, int64_t, double, double*, int64_t);

}  // namespace tg::kernels
