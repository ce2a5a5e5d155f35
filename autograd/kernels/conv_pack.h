// im2col fused into the packing of the GEMM's A operand for the kernel gradient: the micro-kernels' panels are filled
// straight from the NHWC image, so no patch matrix is ever written or zeroed (padding reads as zero on the way).
// (The forward pass needs no packing of A at all: conv_packed.cpp reads the image through the indirect kernels.)
#pragma once
#include <cstdint>

#include "autograd/kernels/im2col.h"
#include "autograd/kernels/sgemm_ukernel.h"

namespace tg::kernels {

// Kernel gradient (A = patches transposed [patch, pixels]): rows are patch entries q0 .. q0 + rows, k runs over the
// pixels p0 .. p0 + kc. rows is at most kMaxPatchRows.
constexpr int64_t kMaxPatchRows = 256;
void pack_conv_patches_transposed(const SgemmUkernel& uk, const float* x, const ConvGeometry& g, int64_t q0,
                                  int64_t rows, int64_t p0, int64_t kc, float* dst);

}  // namespace tg::kernels
