// conv2d (NHWC input, HWIO kernel) and the padding rules it shares with pooling and conv2d_transpose.
// Forward and both backward passes are im2col + GEMM (autograd/kernels/conv_gemm.h).
#include <algorithm>
#include <string>

#include "autograd/kernels/conv_gemm.h"
#include "autograd/kernels/reduce.h"
#include "autograd/ops.h"

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

Pad2D resolve_padding(const Conv2DOptions& o, int in_h, int in_w, int kh, int kw) {
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

Variable conv2d(const Variable& x, const Variable& kernel, const Variable& bias, const Conv2DOptions& o) {
  if (x.rank() != 4)
    throw std::invalid_argument("conv2d: input must be [N, H, W, Cin], got " + shape_str(x.shape()));
  if (kernel.rank() != 4)
    throw std::invalid_argument("conv2d: kernel must be [kh, kw, Cin, Cout], got " + shape_str(kernel.shape()));
  if (kernel.dim(2) != x.dim(3))
    throw std::invalid_argument("conv2d: input " + shape_str(x.shape()) + " has " + std::to_string(x.dim(3)) +
                                " channels but kernel " + shape_str(kernel.shape()) + " expects " +
                                std::to_string(kernel.dim(2)) + " (kernel layout [kh, kw, Cin, Cout])");
  if (kernel.dtype() != x.dtype())
    throw std::invalid_argument(std::string("conv2d: input is ") + dtype_name(x.dtype()) + " but kernel is " +
                                dtype_name(kernel.dtype()));
  const int64_t cout = kernel.dim(3);
  if (bias.defined()) {
    if (bias.rank() != 1 || bias.dim(0) != cout)
      throw std::invalid_argument("conv2d: bias must be [" + std::to_string(cout) + "] for kernel " +
                                  shape_str(kernel.shape()) + ", got " + shape_str(bias.shape()));
    if (bias.dtype() != x.dtype())
      throw std::invalid_argument(std::string("conv2d: input is ") + dtype_name(x.dtype()) + " but bias is " +
                                  dtype_name(bias.dtype()));
  }
  require_positive("conv2d", "kernel height", static_cast<int>(kernel.dim(0)));
  require_positive("conv2d", "kernel width", static_cast<int>(kernel.dim(1)));
  require_positive("conv2d", "stride", std::min(o.strides[0], o.strides[1]));
  require_positive("conv2d", "dilation", std::min(o.dilation[0], o.dilation[1]));

  const int h = static_cast<int>(x.dim(1)), w = static_cast<int>(x.dim(2));
  const int kh = static_cast<int>(kernel.dim(0)), kw = static_cast<int>(kernel.dim(1));
  const Pad2D pad = resolve_padding(o, h, w, kh, kw);
  const int oh = conv_output_size(h, kh, o.strides[0], o.dilation[0], pad.top, pad.bottom);
  const int ow = conv_output_size(w, kw, o.strides[1], o.dilation[1], pad.left, pad.right);
  if (oh <= 0 || ow <= 0) {
    const int eh = (kh - 1) * o.dilation[0] + 1, ew = (kw - 1) * o.dilation[1] + 1;
    throw std::invalid_argument("conv2d: kernel " + std::to_string(eh) + "x" + std::to_string(ew) +
                                " (after dilation) is larger than the padded input " +
                                std::to_string(h + pad.top + pad.bottom) + "x" +
                                std::to_string(w + pad.left + pad.right) + " of input " + shape_str(x.shape()) +
                                "; use padding 'same' or a smaller kernel");
  }

  kernels::ConvGeometry g;
  g.batch = x.dim(0);
  g.in_h = h, g.in_w = w, g.in_c = x.dim(3);
  g.out_h = oh, g.out_w = ow, g.out_c = cout;
  g.kernel_h = kh, g.kernel_w = kw;
  g.stride_h = o.strides[0], g.stride_w = o.strides[1];
  g.dilation_h = o.dilation[0], g.dilation_w = o.dilation[1];
  g.pad_top = pad.top, g.pad_left = pad.left;

  Tensor y({g.batch, oh, ow, cout}, x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    kernels::conv_forward(x.value().data<T>(), kernel.value().data<T>(), g, y.data<T>());
    if (bias.defined()) kernels::add_bias(y.data<T>(), bias.value().data<T>(), g.lines() * ow, cout);
  });

  return record("conv2d", std::move(y), {&x, &kernel, &bias}, [x, kernel, bias, g](const Tensor& gy) {
    dispatch(gy.dtype(), [&]<class T>() {
      if (x.requires_grad()) {
        Tensor dx(x.shape(), gy.dtype());
        kernels::conv_input_grad(gy.data<T>(), kernel.value().data<T>(), g, dx.data<T>());
        x.node()->accumulate_grad(std::move(dx));
      }
      if (kernel.requires_grad()) {
        Tensor dw(kernel.shape(), gy.dtype());
        kernels::conv_kernel_grad(x.value().data<T>(), gy.data<T>(), g, dw.data<T>());
        kernel.node()->accumulate_grad(std::move(dw));
      }
      if (bias.defined() && bias.requires_grad()) {
        Tensor db(bias.shape(), gy.dtype());
        kernels::column_sums(gy.data<T>(), g.lines() * g.out_w, g.out_c, db.data<T>());
        bias.node()->accumulate_grad(std::move(db));
      }
    });
  });
}

}  // namespace tg
