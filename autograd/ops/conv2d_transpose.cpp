// conv2d_transpose: the gradient of the matching conv2d with respect to its input, sized by Keras's
// deconv_output_length. The matching conv2d maps the output [N, OH, OW, Cout] back to the input [N, H, W, Cin]
// with the kernel read as HWIO [kh, kw, Cout, Cin], which is exactly Keras's (kh, kw, out, in) layout; so the
// forward here is that conv's input-gradient pass and the backward its forward and kernel-gradient passes.
#include <algorithm>
#include <string>

#include "autograd/kernels/conv_gemm.h"
#include "autograd/kernels/reduce.h"
#include "autograd/ops.h"

namespace tg {

int conv_transpose_output_size(int in, int kernel, int stride, int dilation, Padding padding, int output_padding) {
  if (padding == Padding::Explicit)
    throw std::invalid_argument("conv_transpose_output_size: padding must be Valid or Same, not Explicit");
  const int k_eff = (kernel - 1) * dilation + 1;
  if (output_padding < 0)
    return padding == Padding::Valid ? in * stride + std::max(k_eff - stride, 0) : in * stride;
  const int pad = padding == Padding::Same ? k_eff / 2 : 0;
  return (in - 1) * stride + k_eff - 2 * pad + output_padding;
}

namespace {
// TensorFlow crops the full transposed output by the 'same' padding of the matching conv2d, computed from the
// output size: the extra row/column comes off the bottom/right. Returns the top/left padding for one axis.
int transpose_pad_before(const char* axis, int in, int out, int kernel, int stride, int dilation, Padding padding) {
  int before = 0, after = 0;
  if (padding == Padding::Same) {
    const auto pads = same_padding_1d(out, kernel, stride, dilation);
    before = pads[0], after = pads[1];
  }
  if (out <= 0 || conv_output_size(out, kernel, stride, dilation, before, after) != in)
    throw std::invalid_argument(std::string("conv2d_transpose: output ") + axis + " " + std::to_string(out) +
                                " is not produced by a conv2d from input " + axis + " " + std::to_string(in) +
                                " with kernel " + std::to_string(kernel) + ", stride " + std::to_string(stride) +
                                "; check output_padding");
  return before;
}
}  // namespace

Variable conv2d_transpose(const Variable& x, const Variable& kernel, const Variable& bias,
                          const Conv2DTransposeOptions& o) {
  if (x.rank() != 4)
    throw std::invalid_argument("conv2d_transpose: input must be [N, H, W, Cin], got " + shape_str(x.shape()));
  if (kernel.rank() != 4)
    throw std::invalid_argument("conv2d_transpose: kernel must be [kh, kw, Cout, Cin], got " +
                                shape_str(kernel.shape()));
  if (kernel.dim(3) != x.dim(3))
    throw std::invalid_argument("conv2d_transpose: input " + shape_str(x.shape()) + " has " +
                                std::to_string(x.dim(3)) + " channels but kernel " + shape_str(kernel.shape()) +
                                " expects " + std::to_string(kernel.dim(3)) + " (kernel layout [kh, kw, Cout, Cin])");
  if (kernel.dtype() != x.dtype())
    throw std::invalid_argument(std::string("conv2d_transpose: input is ") + dtype_name(x.dtype()) +
                                " but kernel is " + dtype_name(kernel.dtype()));
  const int64_t cout = kernel.dim(2);
  if (bias.defined()) {
    if (bias.rank() != 1 || bias.dim(0) != cout)
      throw std::invalid_argument("conv2d_transpose: bias must be [" + std::to_string(cout) + "] for kernel " +
                                  shape_str(kernel.shape()) + ", got " + shape_str(bias.shape()));
    if (bias.dtype() != x.dtype())
      throw std::invalid_argument(std::string("conv2d_transpose: input is ") + dtype_name(x.dtype()) +
                                  " but bias is " + dtype_name(bias.dtype()));
  }
  if (o.padding == Padding::Explicit)
    throw std::invalid_argument("conv2d_transpose: padding must be Valid or Same, not Explicit");
  const int kh = static_cast<int>(kernel.dim(0)), kw = static_cast<int>(kernel.dim(1));
  if (kh <= 0 || kw <= 0)
    throw std::invalid_argument("conv2d_transpose: kernel size must be positive, got " + shape_str(kernel.shape()));
  for (int a = 0; a < 2; ++a) {
    if (o.strides[a] <= 0)
      throw std::invalid_argument("conv2d_transpose: stride must be positive, got " + std::to_string(o.strides[a]));
    if (o.dilation[a] <= 0)
      throw std::invalid_argument("conv2d_transpose: dilation must be positive, got " +
                                  std::to_string(o.dilation[a]));
    if (o.output_padding[a] < -1 || o.output_padding[a] >= o.strides[a])
      throw std::invalid_argument("conv2d_transpose: output_padding " + std::to_string(o.output_padding[a]) +
                                  " must be smaller than the stride " + std::to_string(o.strides[a]) +
                                  " (and not negative; -1 means not given)");
  }

  const int h = static_cast<int>(x.dim(1)), w = static_cast<int>(x.dim(2));
  const int oh = conv_transpose_output_size(h, kh, o.strides[0], o.dilation[0], o.padding, o.output_padding[0]);
  const int ow = conv_transpose_output_size(w, kw, o.strides[1], o.dilation[1], o.padding, o.output_padding[1]);

  // The matching conv2d: from this op's output (its input) to this op's input (its output).
  kernels::ConvGeometry g;
  g.batch = x.dim(0);
  g.in_h = oh, g.in_w = ow, g.in_c = cout;
  g.out_h = h, g.out_w = w, g.out_c = x.dim(3);
  g.kernel_h = kh, g.kernel_w = kw;
  g.stride_h = o.strides[0], g.stride_w = o.strides[1];
  g.dilation_h = o.dilation[0], g.dilation_w = o.dilation[1];
  g.pad_top = transpose_pad_before("height", h, oh, kh, o.strides[0], o.dilation[0], o.padding);
  g.pad_left = transpose_pad_before("width", w, ow, kw, o.strides[1], o.dilation[1], o.padding);

  Tensor y({g.batch, oh, ow, cout}, x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    kernels::conv_input_grad(x.value().data<T>(), kernel.value().data<T>(), g, y.data<T>());
    if (bias.defined()) kernels::add_bias(y.data<T>(), bias.value().data<T>(), g.batch * oh * ow, cout);
  });

  return record("conv2d_transpose", std::move(y), {&x, &kernel, &bias}, [x, kernel, bias, g](const Tensor& gy) {
    dispatch(gy.dtype(), [&]<class T>() {
      if (x.requires_grad()) {
        Tensor dx(x.shape(), gy.dtype());
        kernels::conv_forward(gy.data<T>(), kernel.value().data<T>(), g, dx.data<T>());
        x.node()->accumulate_grad(std::move(dx));
      }
      if (kernel.requires_grad()) {
        Tensor dw(kernel.shape(), gy.dtype());
        kernels::conv_kernel_grad(gy.data<T>(), x.value().data<T>(), g, dw.data<T>());
        kernel.node()->accumulate_grad(std::move(dw));
      }
      if (bias.defined() && bias.requires_grad()) {
        Tensor db(bias.shape(), gy.dtype());
        kernels::column_sums(gy.data<T>(), g.batch * g.in_h * g.in_w, g.in_c, db.data<T>());
        bias.node()->accumulate_grad(std::move(db));
      }
    });
  });
}

}  // namespace tg
