// What conv2d and conv2d_transpose share (private to autograd/ops): one check of their arguments and one way to
// describe the convolution they run to the GEMM kernels.
#pragma once
#include <array>
#include <cstdint>

#include "autograd/kernels/im2col.h"
#include "autograd/ops.h"

namespace tg::conv_family {

// conv2d reads its kernel as [kh, kw, Cin, Cout]; conv2d_transpose as Keras's [kh, kw, Cout, Cin].
enum class KernelLayout { InOut, OutIn };

struct KernelShape {
  int height, width;
  int64_t out_channels;  // the op's output channels (and the bias length)
};

// Throws std::invalid_argument starting "<op>: " and naming the shape, dtype or setting at fault: ranks, channels,
// dtypes, bias, kernel size, strides, dilation, and the settings only one of the two ops takes (explicit pads for
// conv2d, output_padding for conv2d_transpose).
KernelShape check_arguments(const char* op, KernelLayout layout, const Shape& x_shape, DType x_dtype,
                            const Variable& kernel, const Variable& bias, const ConvOptions& options);

// The convolution from [batch, in_h, in_w, in_c] to [batch, out_h, out_w, out_c] with this kernel and options,
// padded by (pad_top, pad_left) before (the padding after follows from the sizes).
kernels::ConvGeometry geometry(int64_t batch, std::array<int64_t, 3> in, std::array<int64_t, 3> out,
                               const KernelShape& kernel, const ConvOptions& options, int pad_top, int pad_left);

// conv2d's checks (check_arguments) and geometry for an input of this shape and dtype: padding resolved, and an
// error starting "<op>: " when the kernel does not fit the padded input. The fused convolutions (concat_conv2d,
// upsample2x_conv2d) pass the shape of the input they stand for (the concatenation, the upsampled tensor).
kernels::ConvGeometry conv2d_geometry(const char* op, const Shape& x_shape, DType x_dtype, const Variable& kernel,
                                      const Variable& bias, const ConvOptions& options);

}  // namespace tg::conv_family
