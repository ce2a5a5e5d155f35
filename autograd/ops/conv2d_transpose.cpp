// conv2d_transpose: the gradient of the matching conv2d with respect to its input, sized by Keras's
// deconv_output_length. The matching conv2d maps the output [N, OH, OW, Cout] back to the input [N, H, W, Cin]
// with the kernel read as HWIO [kh, kw, Cout, Cin], which is exactly Keras's (kh, kw, out, in) layout; so the
// forward here is that conv's input-gradient pass and the backward its forward and kernel-gradient passes.
#include <string>

#include "autograd/kernels/conv_gemm.h"
#include "autograd/kernels/deterministic_sums.h"
#include "autograd/ops.h"
#include "autograd/ops/conv_family.h"

namespace tg {

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
                          const ConvOptions& o) {
  const auto k = conv_family::check_arguments("conv2d_transpose", conv_family::KernelLayout::OutIn, x.shape(),
                                              x.dtype(), kernel, bias, o);
  const int kh = k.height, kw = k.width;
  const int64_t cout = k.out_channels;

  const int h = static_cast<int>(x.dim(1)), w = static_cast<int>(x.dim(2));
  const int oh = conv_transpose_output_size(h, kh, o.strides[0], o.dilation[0], o.padding, o.output_padding[0]);
  const int ow = conv_transpose_output_size(w, kw, o.strides[1], o.dilation[1], o.padding, o.output_padding[1]);

  // The matching conv2d: from this op's output (its input) to this op's input (its output).
  const kernels::ConvGeometry g = conv_family::geometry(
      x.dim(0), {oh, ow, cout}, {h, w, x.dim(3)}, k, o,
      transpose_pad_before("height", h, oh, kh, o.strides[0], o.dilation[0], o.padding),
      transpose_pad_before("width", w, ow, kw, o.strides[1], o.dilation[1], o.padding));

  Tensor y = Tensor::empty({g.batch, oh, ow, cout}, x.dtype());  // every pass below writes all of its output
  dispatch(x.dtype(), [&]<class T>() {
    kernels::conv_input_grad(x.value().data<T>(), kernel.value().data<T>(), g, y.data<T>());
    if (bias.defined()) kernels::add_bias(y.data<T>(), bias.value().data<T>(), g.batch * oh * ow, cout);
  });

  return record("conv2d_transpose", std::move(y), {&x, &kernel, &bias}, [x, kernel, bias, g](const Tensor& gy) {
    dispatch(gy.dtype(), [&]<class T>() {
      if (x.requires_grad()) {
        Tensor dx = Tensor::empty(x.shape(), gy.dtype());
        kernels::conv_forward(gy.data<T>(), kernel.value().data<T>(), g, dx.data<T>());
        x.node()->accumulate_grad(std::move(dx));
      }
      if (kernel.requires_grad()) {
        Tensor dw = Tensor::empty(kernel.shape(), gy.dtype());
        kernels::conv_kernel_grad(gy.data<T>(), x.value().data<T>(), g, dw.data<T>());
        kernel.node()->accumulate_grad(std::move(dw));
      }
      if (bias.defined() && bias.requires_grad()) {
        Tensor db = Tensor::empty(bias.shape(), gy.dtype());
        kernels::column_sums(gy.data<T>(), g.batch * g.in_h * g.in_w, g.in_c, db.data<T>());
        bias.node()->accumulate_grad(std::move(db));
      }
    });
  });
}

}  // namespace tg
