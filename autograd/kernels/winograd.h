// Winograd F(2x2, 3x3) for float32 3x3 convolutions at stride 1 (Lavin and Gray, 2015): each 2x2 block of output
// pixels is computed from the 4x4 input window under it with 16 multiplies per (input, output) channel pair instead
// of 36, so the forward pass (and the input gradient, which at stride 1 is the forward pass of the rotated kernel,
// conv_gemm.cpp) does 2.25x fewer multiplies. The 16 products are 16 independent GEMMs [tiles, Cin] x [Cin, Cout],
// run on the same indirect micro-kernels as the direct convolution (sgemm_ukernel.h).
//
// Rounding: the transforms add a few terms per value, so results differ from the direct convolution in the last
// bits (the tests bound the difference against float64). Each output value is computed by one fixed sequence of
// operations whatever the blocking and the thread count, so results are bitwise the same for any thread count.
// Which layers take this path is a pure function of the shape and the policy below, never of timing.
#pragma once
#include <cstdint>

#include "autograd/kernels/im2col.h"
#include "autograd/kernels/packed_gemm.h"

namespace tg::kernels {

// off: never; on: every 3x3 stride-1 undilated convolution; automatic (the default): those with channels enough
// on both sides for the transforms to pay, and for the kernel gradient 2x2 output tiles enough too (measured per
// layer on the U-Net shapes, bench/conv_bench.cpp).
// The environment variable TAPEGRAD_WINOGRAD=off|on|auto sets the starting policy.
enum class WinogradPolicy { off, on, automatic };
WinogradPolicy winograd_policy();
void set_winograd_policy(WinogradPolicy policy);
// Parses a TAPEGRAD_WINOGRAD value; throws std::runtime_error naming the variable and the accepted values.
WinogradPolicy parse_winograd_policy(const char* value);

// Whether a pass of this float32 convolution takes the Winograd path under the current policy: conv_forward
// (and with it the stride-1 input gradient), or conv_kernel_grad.
enum class WinogradPass { forward, kernel_grad };
bool use_winograd(const ConvGeometry& g, WinogradPass pass);

// y = conv(x, w) through the epilogue, for a 3x3, stride-1, undilated geometry (any padding).
void winograd_conv_forward(const SgemmUkernel& uk, const float* x, const float* w, const ConvGeometry& g, float* y,
                           const GemmEpilogue& epilogue);

// dx = the input gradient of a 3x3 stride-1 convolution with kernel w [3, 3, Cin, Cout] for the output gradient
// dy: the forward pass of `back`, conv_input_grad's geometry from dy to dx, with w rotated by 180 degrees and its
// channel axes swapped, which the kernel transform reads in place (no rotated copy of w). Overwrites dx.
void winograd_conv_input_grad(const SgemmUkernel& uk, const float* dy, const float* w, const ConvGeometry& back,
                              float* dx);

// dw = the kernel gradient of that convolution for the output gradient dy, through the epilogue (accumulate only):
// the adjoint of the forward's transforms, dw = G^T (sum over tiles of V^T (A dY A^T)) G, 16 products per channel
// pair and tile where the direct gradient takes 36.
void winograd_conv_kernel_grad(const SgemmUkernel& uk, const float* x, const float* dy, const ConvGeometry& g,
                               float* dw, const GemmEpilogue& epilogue);

}  // namespace tg::kernels
