// conv2d (NHWC input, HWIO kernel), optionally with its bias and ReLU fused in. The passes are the convolution
// kernels of autograd/kernels/conv_gemm.h; the argument checks and padding rules are shared (ops/conv_family.cpp).
#include <string>

#include "autograd/kernels/conv_gemm.h"
#include "autograd/kernels/deterministic_sums.h"
#include "autograd/ops.h"
#include "autograd/ops/activation_gradients.h"
#include "autograd/ops/conv_family.h"
#include "autograd/parallel.h"

namespace tg {

Variable conv2d(const Variable& x, const Variable& kernel, const Variable& bias, const ConvOptions& o) {
  const auto k = conv_family::check_arguments("conv2d", conv_family::KernelLayout::InOut, x, kernel, bias, o);
  const int64_t cout = k.out_channels;
  const int h = static_cast<int>(x.dim(1)), w = static_cast<int>(x.dim(2));
  const int kh = k.height, kw = k.width;
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

  const kernels::ConvGeometry g =
      conv_family::geometry(x.dim(0), {h, w, x.dim(3)}, {oh, ow, cout}, k, o, pad.top, pad.left);

  Tensor y = Tensor::empty({g.batch, oh, ow, cout}, x.dtype());  // every pass below writes all of its output
  const bool relu = o.relu;
  dispatch(x.dtype(), [&]<class T>() {
    kernels::conv_forward(x.value().data<T>(), kernel.value().data<T>(), g, y.data<T>(),
                          bias.defined() ? bias.value().data<T>() : static_cast<const T*>(nullptr), relu);
  });

  // With the ReLU fused, the output is kept (it is the op's value, so this costs no memory) for the ReLU's gradient:
  // out > 0 exactly where the pre-activation was, and the pre-activation itself is never stored.
  return record(relu ? "conv2d_relu" : "conv2d", y, {&x, &kernel, &bias}, [x, kernel, bias, g, y, relu](const Tensor& gy) {
    const Tensor g_conv = relu ? relu_gradient(gy, y) : gy;
    dispatch(g_conv.dtype(), [&]<class T>() {
      const T* dy = g_conv.data<T>();
      if (x.requires_grad()) {
        Tensor dx = Tensor::empty(x.shape(), g_conv.dtype());
        kernels::conv_input_grad(dy, kernel.value().data<T>(), g, dx.data<T>());
        x.node()->accumulate_grad(std::move(dx));
      }
      if (kernel.requires_grad()) {
        Tensor dw = Tensor::empty(kernel.shape(), g_conv.dtype());
        kernels::conv_kernel_grad(x.value().data<T>(), dy, g, dw.data<T>());
        kernel.node()->accumulate_grad(std::move(dw));
      }
      if (bias.defined() && bias.requires_grad()) {
        Tensor db = Tensor::empty(bias.shape(), g_conv.dtype());
        kernels::column_sums(dy, g.lines() * g.out_w, g.out_c, db.data<T>());
        bias.node()->accumulate_grad(std::move(db));
      }
    });
  });
}

}  // namespace tg
