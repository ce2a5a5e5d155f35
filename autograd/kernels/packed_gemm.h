// The BLIS loops around one micro-kernel (sgemm_ukernel.h), for float32: C[m, n] = A[m, k] B[k, n], through
// an epilogue. Serial: callers parallelise over blocks of C (never over k), so an element's sum is the same for
// any thread count.
//
//   for k0 in k, by kc           (one packed B block per micro-panel of columns: kc x nr, in L1)
//     for i0 in m, by mc         (pack_a: an mc x kc block of A into mr-row panels, in L2)
//       for j0 in n, by nr
//         for i in the block, by mr: micro-kernel on one mr x nr tile of C
//
// C is never zeroed: the first k block overwrites C (or adds to it, with GemmEpilogue::accumulate), later blocks
// add; bias and ReLU are applied with the last block. A and B come from packers, so a convolution packs straight
// from its image (conv_pack.h) and packs its weights once per call.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "autograd/kernels/sgemm_ukernel.h"

namespace tg::kernels {

// What happens to C = A B beyond the product: a hook for the layers' bias and activation.
struct GemmEpilogue {
  bool accumulate = false;      // C += A B (else C = A B, and C's old contents are never read)
  const float* bias = nullptr;  // then + bias[j] per column j
  bool relu = false;            // then v < 0 ? 0 : v, as the relu op (NaN and -0 pass through)
};

// Cache-line-aligned float storage for packed panels.
class PackBuffer {
 public:
  float* data() const { return data_.get(); }
  // At least `floats` floats; the contents are not kept when it grows.
  float* reserve(int64_t floats);

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  int64_t capacity_ = 0;
};

// The calling thread's own packing buffers (slot 0 for A, 1 for B; 2 and 3 for winograd.cpp's transformed tiles),
// reused across calls: no allocation in the loops.
float* thread_pack_buffer(int slot, int64_t floats);

// Number of k blocks and their size for a product of depth k: the same for every call with this k and kernel, so
// the summation order depends only on the shape and the ISA.
inline int64_t k_block(const SgemmUkernel& uk, int64_t k) {
  const int64_t blocks = (k + uk.kc - 1) / uk.kc;
  return blocks <= 1 ? k : (k + blocks - 1) / blocks;
}

// Where a packed B block lies: panel p (columns p*nr ...) of the block starting at k0 is at data + p * panel_stride.
struct PackedBlock {
  const float* data;
  int64_t panel_stride;
};

// Writes C through the epilogue with a zero product (k = 0): nothing to multiply, but C is still defined.
void apply_epilogue_only(int64_t m, int64_t n, float* c, int64_t ldc, const GemmEpilogue& e);

// pack_a(i0, rows, k0, kc, dst): rows x kc of A from (i0, k0), as ceil(rows / mr) zero-padded panels of kc x mr.
// b_block(k0, kc) -> PackedBlock: B's rows k0 .. k0 + kc, all n columns, in nr-column panels.
template <class PackA, class BBlock>
void gemm_blocked(const SgemmUkernel& uk, int64_t m, int64_t n, int64_t k, PackA&& pack_a, BBlock&& b_block, float* c,
                  int64_t ldc, const GemmEpilogue& e) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return apply_epilogue_only(m, n, c, ldc, e);
  const int64_t kc_max = k_block(uk, k), mc = uk.mc, mr = uk.mr, nr = uk.nr;
  float* a_packed = thread_pack_buffer(0, mc * kc_max);
  for (int64_t k0 = 0; k0 < k; k0 += kc_max) {
    const int64_t kc = std::min(kc_max, k - k0);
    const bool last = k0 + kc == k;
    const PackedBlock b = b_block(k0, kc);
    for (int64_t i0 = 0; i0 < m; i0 += mc) {
      const int64_t rows = std::min(mc, m - i0);
      pack_a(i0, rows, k0, kc, a_packed);
      for (int64_t j0 = 0; j0 < n; j0 += nr) {
        const TileEpilogue te{k0 > 0 || e.accumulate, last && e.bias ? e.bias + j0 : nullptr, last && e.relu};
        const float* bp = b.data + (j0 / nr) * b.panel_stride;
        const int64_t cols = std::min(nr, n - j0);
        for (int64_t i = 0; i < rows; i += mr)
          uk.run(kc, a_packed + (i / mr) * kc * mr, bp, c + (i0 + i) * ldc + j0, ldc, std::min(mr, rows - i), cols, te);
      }
    }
  }
}

// Packers for plain row-major matrices. A is [m, k] with row stride lda, or [k, m] when transposed; each value is
// multiplied by alpha on the way (alpha = 1 copies).
void pack_a_matrix(const SgemmUkernel& uk, bool trans_a, const float* a, int64_t lda, float alpha, int64_t i0,
                   int64_t rows, int64_t k0, int64_t kc, float* dst);
// B's rows k0 .. k0 + kc, columns j0 .. j0 + cols, into ceil(cols / nr) panels of kc x nr, panel_stride apart.
// B is [k, n] with row stride ldb, or [n, k] when transposed.
void pack_b_matrix(const SgemmUkernel& uk, bool trans_b, const float* b, int64_t ldb, int64_t k0, int64_t kc,
                   int64_t j0, int64_t cols, int64_t panel_stride, float* dst);

// Floats of a whole packed B of k x n (ceil(n / nr) panels of k x nr).
inline int64_t packed_b_floats(const SgemmUkernel& uk, int64_t k, int64_t n) { return (n + uk.nr - 1) / uk.nr * uk.nr * k; }

// Serial C = alpha op(A) op(B) through the epilogue with the given micro-kernel: the float32 gemm() (gemm.h) and
// the kernel tests call it.
void sgemm(const SgemmUkernel& uk, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, const GemmEpilogue& e);

}  // namespace tg::kernels
