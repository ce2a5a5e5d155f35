// im2col fused into the packing of the GEMM's A operand: the micro-kernels' panels are filled straight from the NHWC
// image, so no patch matrix is ever written or zeroed (padding reads as zero on the way).
#pragma once
#include <cstdint>

#include "autograd/kernels/im2col.h"
#include "autograd/kernels/sgemm_ukernel.h"

namespace tg::kernels {

// Forward (A = patches [pixels, patch]): rows are output pixels i0 .. i0 + rows (pixel = line * out_w + ox),
// k runs over the patch entries k0 .. k0 + kc, ordered (ky, kx, ci) as in im2col.h.
void pack_conv_patches(const SgemmUkernel& uk, const float* x, const ConvGeometry& g, int64_t i0, int64_t rows,
                       int64_t k0, int64_t kc, float* dst);

// Kernel gradient (A = patches transposed [patch, pixels]): rows are patch entries q0 .. q0 + rows, k runs over the
// pixels p0 .. p0 + kc. rows is at most kMaxPatchRows.
constexpr int64_t kMaxPatchRows = 256;
void pack_conv_patches_transposed(const SgemmUkernel& uk, const float* x, const ConvGeometry& g, int64_t q0,
                                  int64_t rows, int64_t p0, int64_t kc, float* dst);

}  // namespace tg::kernels
