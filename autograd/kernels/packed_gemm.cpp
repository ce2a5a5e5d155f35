#include "autograd/kernels/packed_gemm.h"

#include <algorithm>
#include <new>

namespace tg::kernels {

float* PackBuffer::reserve(int64_t floats) {
  if (floats > capacity_) {
    // 64-byte alignment for the kernels' aligned loads; aligned_alloc wants a size that is a multiple of it.
    const size_t bytes = (static_cast<size_t>(floats) * sizeof(float) + 63) / 64 * 64;
    float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!p) throw std::bad_alloc();
    data_.reset(p);
    capacity_ = static_cast<int64_t>(bytes / sizeof(float));
  }
  return data_.get();
}

float* thread_pack_buffer(int slot, int64_t floats) {
  thread_local PackBuffer buffers[4];
  return buffers[slot].reserve(floats);
}

void apply_epilogue_only(int64_t m, int64_t n, float* c, int64_t ldc, const GemmEpilogue& e) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float v = e.accumulate ? c[i * ldc + j] : 0.0f;
      if (e.bias) v = v + e.bias[j];
      if (e.relu) v = v < 0.0f ? 0.0f : v;
      c[i * ldc + j] = v;
    }
}

void pack_a_matrix(const SgemmUkernel& uk, bool trans_a, const float* a, int64_t lda, float alpha, int64_t i0,
                   int64_t rows, int64_t k0, int64_t kc, float* dst) {
  const int64_t mr = uk.mr;
  for (int64_t p0 = 0; p0 < rows; p0 += mr, dst += kc * mr) {
    const int64_t live = std::min(mr, rows - p0);
    if (live < mr) std::fill(dst, dst + kc * mr, 0.0f);
    if (trans_a) {  // A stored [k, m]: a panel's mr values for one k are adjacent
      for (int64_t kk = 0; kk < kc; ++kk) {
        const float* src = a + (k0 + kk) * lda + i0 + p0;
        for (int64_t r = 0; r < live; ++r) dst[kk * mr + r] = alpha * src[r];
      }
    } else {
      for (int64_t r = 0; r < live; ++r) {
        const float* src = a + (i0 + p0 + r) * lda + k0;
        for (int64_t kk = 0; kk < kc; ++kk) dst[kk * mr + r] = alpha * src[kk];
      }
    }
  }
}

void pack_b_matrix(const SgemmUkernel& uk, bool trans_b, const float* b, int64_t ldb, int64_t k0, int64_t kc,
                   int64_t j0, int64_t cols, int64_t panel_stride, float* dst) {
  const int64_t nr = uk.nr;
  for (int64_t q0 = 0; q0 < cols; q0 += nr, dst += panel_stride) {
    const int64_t live = std::min(nr, cols - q0);
    if (live < nr) std::fill(dst, dst + kc * nr, 0.0f);
    if (trans_b) {  // B stored [n, k]
      for (int64_t j = 0; j < live; ++j) {
        const float* src = b + (j0 + q0 + j) * ldb + k0;
        for (int64_t kk = 0; kk < kc; ++kk) dst[kk * nr + j] = src[kk];
      }
    } else {
      // A plain loop, not std::copy_n: a row is nr floats or fewer, too short for a library call to pay.
      for (int64_t kk = 0; kk < kc; ++kk) {
        const float* src = b + (k0 + kk) * ldb + j0 + q0;
        float* d = dst + kk * nr;
        for (int64_t j = 0; j < live; ++j) d[j] = src[j];
      }
    }
  }
}

void sgemm(const SgemmUkernel& uk, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, const GemmEpilogue& e) {
  if (m <= 0 || n <= 0) return;
  // B is packed one k block at a time (kc x n), reused by every row block of A.
  const int64_t kc_max = k_block(uk, std::max<int64_t>(k, 1));
  float* b_packed = thread_pack_buffer(1, kc_max * ((n + uk.nr - 1) / uk.nr * uk.nr));
  gemm_blocked(
      uk, m, n, k,
      [&](int64_t i0, int64_t rows, int64_t k0, int64_t kc, float* dst) {
        pack_a_matrix(uk, trans_a, a, lda, alpha, i0, rows, k0, kc, dst);
      },
      [&](int64_t k0, int64_t kc) {
        pack_b_matrix(uk, trans_b, b, ldb, k0, kc, 0, n, kc * uk.nr, b_packed);
        return PackedBlock{b_packed, kc * uk.nr};
      },
      c, ldc, e);
}

}  // namespace tg::kernels
