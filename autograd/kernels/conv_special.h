// Special float32 convolution kernels for the shapes where the generic packed kernels (conv_packed.cpp) waste the
// machine: their 6x16 register tile is mostly empty when K = 9 (the 1-channel first layer) or N = 1-2 (the 1x1
// output layer), and their kernel gradient for layers of few channels spends more on its row tables than on FMAs.
// conv_forward, conv_input_grad and conv_kernel_grad (conv_gemm.h) pick them by geometry alone, so ops and layers do
// not change. Each is written once with Float8 vectors (float8.h) and built twice, portable and AVX2 + FMA, picked by
// the Isa argument (the callers pass active_isa(); the tests pass each ISA the CPU runs). Output channels sit in
// vector lanes; every output value is one fixed sequence of operations (kernel gradients: fixed groups of output
// lines summed in order, then the groups added in order), so results are bitwise the same for any thread count.
// The two builds differ in the last bits (FMA contraction), as the GEMM kernels of different ISAs do.
#pragma once
#include <cstdint>

#include "autograd/kernels/im2col.h"
#include "autograd/kernels/isa.h"
#include "autograd/kernels/packed_gemm.h"

namespace tg::kernels {

// The first layer: one input channel, stride 1, no dilation (any kernel size and padding). Forward only: its kernel
// gradient is direct_kernel_grad's, and the input gradient of a model's input is never asked for.
bool first_layer_forward_applies(const ConvGeometry& g);
void first_layer_forward(Isa isa, const float* x, const float* w, const ConvGeometry& g, float* y,
                         const GemmEpilogue& epilogue);

// The kernel gradient of a 3x3, stride-1, undilated layer of few input channels, read straight from the NHWC rows
// (accumulate epilogue only). Measured one pass at a time on one Zen 3 core against the packed outer-product kernel
// (and the Winograd gradient): 1.3-1.5x at 16-32 input channels with 16-64 outputs, 2.5x for the first layer; from
// 64 input channels on it gains little (64 -> 32: 1.07x) and the Winograd gradient takes 64 -> 64.
// On AVX-512 (input channels in multiples of 16, outputs in multiples of 8) its own tile holds a block of dw in
// registers over many lines and takes layers of up to 128 channels, before Winograd's gradient: measured on 2
// Sapphire Rapids cores against the path it replaces, 1.2-1.7x from 64 -> 64 at 64x64 to 128 -> 128 at 128x128;
// 0.7-0.9x from 256 channels on.
inline constexpr int64_t kDirectKernelGradMaxInputs = 32;
inline constexpr int64_t kDirectKernelGradMaxOutputs = 64;
inline constexpr int64_t kDirectKernelGradMaxAvx512 = 128;
bool direct_kernel_grad_applies(Isa isa, const ConvGeometry& g);
void direct_kernel_grad(Isa isa, const float* x, const float* dy, const ConvGeometry& g, float* dw,
                        const GemmEpilogue& epilogue);

// The forward pass of a 3x3, stride-1, undilated convolution on AVX-512 or AVX2 (conv_direct_3x3.cpp), for the
// layers of few channels where the indirect GEMM tile runs load-bound and Winograd's transforms cost more than they
// save; conv_input_grad reaches it too, as the forward pass of the rotated kernel. Bias, ReLU and accumulate
// epilogues.
// Measured one pass at a time on 2 Sapphire Rapids cores, 256x256 or 128x128, batch 2, against the Winograd
// forward: 2.0-2.3x at 16 or 32 inputs and 16 outputs, 1.3x at 16 inputs and 32 outputs; 0.95x at 32 -> 32, and
// behind from 64 channels on. The AVX2 tile (measured there too, under TAPEGRAD_ISA=avx2) gains only with 16 inputs
// (1.3x at 16 -> 16, 1.1x at 16 -> 32; 0.8-0.95x from 32 inputs on), so AVX2 takes only those.
inline constexpr int64_t kDirect3x3MaxInputsFor16Outputs = 64;
inline constexpr int64_t kDirect3x3MaxOutputsFor16Inputs = 32;
bool direct_3x3_forward_applies(Isa isa, const ConvGeometry& g);
void direct_3x3_forward(Isa isa, const float* x, const float* w, const ConvGeometry& g, float* y,
                        const GemmEpilogue& e);

// A pointwise (1x1, stride 1, unpadded) convolution with at most kPointwiseMaxOutputs output channels: the output
// layer of a segmentation network. Forward (bias, ReLU, accumulate), input gradient (overwrites dx) and kernel
// gradient (accumulate only).
inline constexpr int64_t kPointwiseMaxOutputs = 4;
bool pointwise_few_outputs_applies(const ConvGeometry& g);
void pointwise_few_forward(Isa isa, const float* x, const float* w, const ConvGeometry& g, float* y,
                           const GemmEpilogue& epilogue);
void pointwise_few_input_grad(Isa isa, const float* dy, const float* w, const ConvGeometry& g, float* dx);
void pointwise_few_kernel_grad(Isa isa, const float* x, const float* dy, const ConvGeometry& g, float* dw,
                               const GemmEpilogue& epilogue);

// Kernel gradients sum each group of output lines into its own copy of dw (so the groups can run in parallel), then
// add the copies in group order. The number of groups depends only on the geometry and dw's size: as many as a
// small kernel allows (up to kMaxPartialSums, each of at least kMinGroupPixels pixels), one when dw is large.
inline constexpr int64_t kMinGroupPixels = 2048;
int64_t kernel_grad_groups(const ConvGeometry& g, int64_t dw_size);
// dw [rows, cols] (+)= the sum over the groups, in group order, of their copies: group g's is [rows, ld] (ld >= cols,
// the columns past cols unused) at partial + g * rows * ld.
void add_group_sums(const float* partial, int64_t groups, int64_t rows, int64_t cols, int64_t ld, float* dw,
                    bool accumulate);

}  // namespace tg::kernels
