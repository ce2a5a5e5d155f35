// bfloat16 convolutions on Intel AMX (the TMUL unit of Sapphire Rapids and later): float32 tensors in memory, each
// product's operands rounded to bfloat16 (round to nearest even) as they are packed, products summed in float32.
// Off by default; a training run opts in (`tapegrad train --precision bf16`, tg::set_conv_precision), and
// the weights, their gradients, the optimizer and everything outside the convolutions stay float32 (the master
// weights are float32, only the convolutions' inputs are rounded).
//
// Which passes: a float32 convolution's forward, its stride-1 input gradient (the forward of the rotated kernel,
// conv_gemm.cpp) and its kernel gradient, for every geometry except two that stay float32 because they are
// memory-bound anyway: fewer than 4 input channels (a grey or RGB image's first layer) and the 1x1 output layer with
// few classes. The fused nearest-upsample + 2x2 phase kernels (upsample_conv.h) and the strided input gradient
// (col2im) stay float32 too.
//
// Rounding: AMX sums each 32-term block of a dot product in an order fixed by the hardware and the tile shapes,
// and the tiles are cut from the shape alone, so results are bitwise the same for any thread count; they differ
// from the float32 path by the bfloat16 rounding of the operands (relative 2^-9 each), which the tests bound.
#pragma once
#include <cstdint>

#include "autograd/kernels/im2col.h"
#include "autograd/kernels/packed_gemm.h"
#include "autograd/precision.h"

namespace tg::kernels {

// Whether the float32 convolution passes on this geometry run on AMX now (bf16 selected, and not a special case).
bool use_amx_bf16(const ConvGeometry& g);

// y = conv(x, w) through the epilogue (accumulate, bias, ReLU), operands rounded to bfloat16.
void amx_conv_forward(const float* x, const float* w, const ConvGeometry& g, float* y, const GemmEpilogue& epilogue);
// dw = the kernel gradient for dy through the epilogue (accumulate only), operands rounded to bfloat16.
void amx_conv_kernel_grad(const float* x, const float* dy, const ConvGeometry& g, float* dw,
                          const GemmEpilogue& epilogue);

}  // namespace tg::kernels
