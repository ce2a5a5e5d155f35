// The padding rules of convolution and pooling (TensorFlow's 'same'), and the argument checks and geometry that
// conv2d and conv2d_transpose share.
#include "autograd/ops/conv_family.h"

#include <algorithm>
#include <string>

namespace tg {

namespace {
void require_positive(const char* op, const char* what, int value) {
  if (value <= 0)
    throw std::invalid_argument(std::string(op) + ": " + what + " must be positive, got " + std::to_string(value));
}
}  // namespace

std::array<int, 2> same_padding_1d(int in, int kernel, int stride, int dilation) {
  require_positive("same_padding_1d", "kernel size", kernel);
  require_positive("same_padding_1d", "stride", stride);
  require_positive("same_padding_1d", "dilation", dilation);
  if (in < 0)
    throw std::invalid_argument("same_padding_1d: input size must not be negative, got " + std::to_string(in));
  const int out = (in + stride - 1) / stride;
  const int total = std::max((out - 1) * stride + (kernel - 1) * dilation + 1 - in, 0);
  return {total / 2, total - total / 2};  // TensorFlow puts the odd pixel after (bottom/right)
}

int conv_output_size(int in, int kernel, int stride, int dilation, int pad_before, int pad_after) {
  require_positive("conv_output_size", "kernel size", kernel);
  require_positive("conv_output_size", "stride", stride);
  require_positive("conv_output_size", "dilation", dilation);
  const int span = in + pad_before + pad_after - ((kernel - 1) * dilation + 1);
  return span < 0 ? 0 : span / stride + 1;
}

Pad2D resolve_padding(const ConvOptions& o, int in_h, int in_w, int kh, int kw) {
  switch (o.padding) {
    case Padding::Valid:
      return {};
    case Padding::Same: {
      const auto [top, bottom] = same_padding_1d(in_h, kh, o.strides[0], o.dilation[0]);
      const auto [left, right] = same_padding_1d(in_w, kw, o.strides[1], o.dilation[1]);
      return {top, bottom, left, right};
    }
    case Padding::Explicit:
      if (o.pads.top < 0 || o.pads.bottom < 0 || o.pads.left < 0 || o.pads.right < 0)
        throw std::invalid_argument("resolve_padding: explicit padding must not be negative, got top " +
                                    std::to_string(o.pads.top) + " bottom " + std::to_string(o.pads.bottom) +
                                    " left " + std::to_string(o.pads.left) + " right " +
                                    std::to_string(o.pads.right));
      return o.pads;
  }
  throw std::invalid_argument("resolve_padding: unknown padding mode");
}

int conv_transpose_output_size(int in, int kernel, int stride, int dilation, Padding padding, int output_padding) {
  if (padding == Padding::Explicit)
    throw std::invalid_argument("conv_transpose_output_size: padding must be Valid or Same, not Explicit");
  const int k_eff = (kernel - 1) * dilation + 1;
  if (output_padding < 0)
    return padding == Padding::Valid ? in * stride + std::max(k_eff - stride, 0) : in * stride;
  const int pad = padding == Padding::Same ? k_eff / 2 : 0;
  return (in - 1) * stride + k_eff - 2 * pad + output_padding;
}

namespace conv_family {

KernelShape check_arguments(const char* op, KernelLayout layout, const Shape& x_shape, DType x_dtype,
                            const Variable& kernel, const Variable& bias, const ConvOptions& o) {
  const std::string who = op;
  const bool transposed = layout == KernelLayout::OutIn;
  const char* kernel_layout = transposed ? "[kh, kw, Cout, Cin]" : "[kh, kw, Cin, Cout]";
  if (x_shape.size() != 4) throw std::invalid_argument(who + ": input must be [N, H, W, Cin], got " + shape_str(x_shape));
  if (kernel.rank() != 4)
    throw std::invalid_argument(who + ": kernel must be " + kernel_layout + ", got " + shape_str(kernel.shape()));
  const int in_axis = transposed ? 3 : 2, out_axis = transposed ? 2 : 3;
  if (kernel.dim(in_axis) != x_shape[3])
    throw std::invalid_argument(who + ": input " + shape_str(x_shape) + " has " + std::to_string(x_shape[3]) +
                                " channels but kernel " + shape_str(kernel.shape()) + " expects " +
                                std::to_string(kernel.dim(in_axis)) + " (kernel layout " + kernel_layout + ")");
  if (kernel.dtype() != x_dtype)
    throw std::invalid_argument(who + ": input is " + dtype_name(x_dtype) + " but kernel is " +
                                dtype_name(kernel.dtype()));
  const int64_t cout = kernel.dim(out_axis);
  if (bias.defined()) {
    if (bias.rank() != 1 || bias.dim(0) != cout)
      throw std::invalid_argument(who + ": bias must be [" + std::to_string(cout) + "] for kernel " +
                                  shape_str(kernel.shape()) + ", got " + shape_str(bias.shape()));
    if (bias.dtype() != x_dtype)
      throw std::invalid_argument(who + ": input is " + dtype_name(x_dtype) + " but bias is " +
                                  dtype_name(bias.dtype()));
  }
  if (transposed && o.relu)
    throw std::invalid_argument(who + ": the fused ReLU (ConvOptions::relu) is an option of conv2d only; apply relu() "
                                "to the output");
  if (transposed && o.padding == Padding::Explicit)
    throw std::invalid_argument(who + ": padding must be Valid or Same, not Explicit");
  require_positive(op, "kernel height", static_cast<int>(kernel.dim(0)));
  require_positive(op, "kernel width", static_cast<int>(kernel.dim(1)));
  for (int a = 0; a < 2; ++a) {
    require_positive(op, "stride", o.strides[a]);
    require_positive(op, "dilation", o.dilation[a]);
    if (transposed && (o.output_padding[a] < -1 || o.output_padding[a] >= o.strides[a]))
      throw std::invalid_argument(who + ": output_padding " + std::to_string(o.output_padding[a]) +
                                  " must be smaller than the stride " + std::to_string(o.strides[a]) +
                                  " (and not negative; -1 means not given)");
    if (!transposed && o.output_padding[a] != -1)
      throw std::invalid_argument(who + ": output_padding is an argument of conv2d_transpose, not of conv2d");
  }
  return {static_cast<int>(kernel.dim(0)), static_cast<int>(kernel.dim(1)), cout};
}

kernels::ConvGeometry geometry(int64_t batch, std::array<int64_t, 3> in, std::array<int64_t, 3> out,
                               const KernelShape& kernel, const ConvOptions& o, int pad_top, int pad_left) {
  kernels::ConvGeometry g;
  g.batch = batch;
  g.in_h = in[0], g.in_w = in[1], g.in_c = in[2];
  g.out_h = out[0], g.out_w = out[1], g.out_c = out[2];
  g.kernel_h = kernel.height, g.kernel_w = kernel.width;
  g.stride_h = o.strides[0], g.stride_w = o.strides[1];
  g.dilation_h = o.dilation[0], g.dilation_w = o.dilation[1];
  g.pad_top = pad_top, g.pad_left = pad_left;
  return g;
}

kernels::ConvGeometry conv2d_geometry(const char* op, const Shape& x_shape, DType x_dtype, const Variable& kernel,
                                      const Variable& bias, const ConvOptions& o) {
  const KernelShape k = check_arguments(op, KernelLayout::InOut, x_shape, x_dtype, kernel, bias, o);
  const int h = static_cast<int>(x_shape[1]), w = static_cast<int>(x_shape[2]);
  const Pad2D pad = resolve_padding(o, h, w, k.height, k.width);
  const int oh = conv_output_size(h, k.height, o.strides[0], o.dilation[0], pad.top, pad.bottom);
  const int ow = conv_output_size(w, k.width, o.strides[1], o.dilation[1], pad.left, pad.right);
  if (oh <= 0 || ow <= 0) {
    const int eh = (k.height - 1) * o.dilation[0] + 1, ew = (k.width - 1) * o.dilation[1] + 1;
    throw std::invalid_argument(std::string(op) + ": kernel " + std::to_string(eh) + "x" + std::to_string(ew) +
                                " (after dilation) is larger than the padded input " +
                                std::to_string(h + pad.top + pad.bottom) + "x" +
                                std::to_string(w + pad.left + pad.right) + " of input " + shape_str(x_shape) +
                                "; use padding 'same' or a smaller kernel");
  }
  return geometry(x_shape[0], {h, w, x_shape[3]}, {oh, ow, k.out_channels}, k, o, pad.top, pad.left);
}

}  // namespace conv_family
}  // namespace tg
