// Nearest 2x upsampling followed by a 2x2 'same' convolution (the U-Net decoder's UpSampling2D -> Conv2D(f, 2)),
// computed from the small tensor x [N, H, W, Cin] without the upsampled one. TensorFlow's 'same' pads an even
// kernel by 0 before and 1 after, so output pixel (Y, X) reads upsampled rows Y, Y + 1 and columns X, X + 1, i.e.
// small rows Y / 2 and (Y + 1) / 2 (zero past the last row). For output row 2i both are row i; for row 2i + 1 they
// are i and i + 1. So each of the four phases (Y mod 2, X mod 2) of the output is a small convolution of x with
// pre-summed kernel taps (k[a][b] = W[a, b], the [Cin, Cout] matrix of one tap of the 2x2 kernel W):
//   phase (0, 0): x[i, j] (k00 + k01 + k10 + k11)                                             1 tap
//   phase (0, 1): x[i, j] (k00 + k10) + x[i, j + 1] (k01 + k11)                                 2 taps
//   phase (1, 0): x[i, j] (k00 + k01) + x[i + 1, j] (k10 + k11)                                 2 taps
//   phase (1, 1): x[i, j] k00 + x[i, j + 1] k01 + x[i + 1, j] k10 + x[i + 1, j + 1] k11         4 taps
// 9 tap products per small pixel where the convolution of the upsampled tensor does 16.
//
// The adjoints follow the same way. The input gradient is a 3x3, stride-2 convolution of dy (padding 1 before)
// with pre-summed transposed taps: dx[i, j] = sum over r, c in {0, 1, 2} of dy[2i - 1 + r, 2j - 1 + c] K[r, c],
// K[r, c] = sum over a in A(r), b in A(c) of k[a][b]^T, A(0) = {1}, A(1) = {0, 1}, A(2) = {0}. The kernel gradient
// of tap (a, b) is x^T P_ab, where P_ab[i, j] sums dy over rows {2i - a, 2i + 1 - a} and columns {2j - b, 2j + 1 - b}
// (those inside the output): four 2x2 box sums of dy, a quarter of the products of the upsampled kernel gradient.
//
// float32 runs the forward on a direct AVX-512 tile where the CPU has AVX-512 (upsample_conv.cpp), else on the packed
// indirect micro-kernels (sgemm_ukernel.h), and the two gradients on the
// convolution passes of conv_gemm.h; float64 (gradcheck's precision) sums the upsampled convolution's 16 taps
// plainly and shares the gradients' code. Pre-summed weights round differently from the upsampled convolution's
// separate products, so values agree with upsample + conv to float32 rounding. Every output value is summed in an
// order fixed by the shape (and ISA), so results are bitwise the same for any thread count.
#pragma once
#include <cstdint>

namespace tg::kernels {

struct UpsampleConvShape {
  int64_t batch = 0, in_h = 0, in_w = 0, in_c = 0, out_c = 0;  // x [batch, in_h, in_w, in_c]; y twice as high and wide
};

// y [N, 2H, 2W, Cout] = the convolution, + bias[out channel] (when not null), then ReLU when relu; overwritten.
template <class T>
void upsample_conv_forward(const T* x, const T* w, const UpsampleConvShape& s, const T* bias, bool relu, T* y);

// dx [N, H, W, Cin] for the output gradient dy [N, 2H, 2W, Cout]; overwritten.
template <class T>
void upsample_conv_input_grad(const T* dy, const T* w, const UpsampleConvShape& s, T* dx);

// dw [2, 2, Cin, Cout]; overwritten.
template <class T>
void upsample_conv_kernel_grad(const T* x, const T* dy, const UpsampleConvShape& s, T* dw);

}  // namespace tg::kernels
