// The three GEMM-shaped passes of a convolution, shared by conv2d and conv2d_transpose (whose forward is the
// input gradient of the matching conv2d). x [N, in_h, in_w, in_c], w HWIO [kh, kw, in_c, out_c],
// y [N, out_h, out_w, out_c], all contiguous. Work is cut into tiles and chunks of output lines so the im2col
// workspace stays bounded; the cuts depend only on the geometry, and every GEMM runs serially on a fixed tile
// (tiled_gemm.h), so results are bitwise the same for any thread count.
#pragma once
#include <cstdint>

#include "autograd/kernels/im2col.h"
#include "autograd/kernels/packed_gemm.h"
#include "autograd/parallel.h"

namespace tg::kernels {

// Kernel gradients of up to kPartialSumElements / 4 elements are summed in up to kMaxPartialSums private copies,
// one per fixed group of output lines, then added in group order (float32 and float64 passes alike).
inline constexpr int64_t kPartialSumElements = int64_t(1) << 22;
inline constexpr int64_t kMaxPartialSums = 32;

template <class T>
void conv_forward(const T* x, const T* w, const ConvGeometry& g, T* y);  // y = conv(x, w), overwritten

template <class T>
void conv_input_grad(const T* dy, const T* w, const ConvGeometry& g, T* dx);  // dx overwritten

template <class T>
void conv_kernel_grad(const T* x, const T* dy, const ConvGeometry& g, T* dw);  // dw overwritten

// float32 on the packed micro-kernels (conv_packed.cpp), im2col fused into packing, the kernel packed once per call,
// with an epilogue applied as each tile of the output is stored: + bias[out channel], ReLU, or accumulation into the
// output instead of overwriting it (a kernel gradient takes only accumulation). conv_forward<float> and
// conv_kernel_grad<float> are these with no epilogue.
void conv_forward(const float* x, const float* w, const ConvGeometry& g, float* y, const GemmEpilogue& epilogue);
void conv_kernel_grad(const float* x, const float* dy, const ConvGeometry& g, float* dw, const GemmEpilogue& epilogue);

// y = conv(x, w), then + bias[out channel] (when bias is not null), then ReLU (v < 0 ? 0 : v): float32 in the
// micro-kernels' epilogue as each output tile is stored, float64 in one pass after the convolution. Both give the
// values of the separate passes, bit for bit.
template <class T>
void conv_forward(const T* x, const T* w, const ConvGeometry& g, T* y, const T* bias, bool relu);

// y[r, j] += b[j] for a y of [rows, cols].
template <class T>
void add_bias(T* y, const T* b, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    T* row = y + r * cols;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) row[j] += b[j];
  }
}

}  // namespace tg::kernels
