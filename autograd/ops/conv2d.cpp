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
  const kernels::ConvGeometry g = conv_family::conv2d_geometry("conv2d", x.shape(), x.dtype(), kernel, bias, o);
  const int64_t cout = g.out_c, oh = g.out_h, ow = g.out_w;

  Tensor y = Tensor::empty({g.batch, oh, ow, cout}, x.dtype());  // every pass below writes all of its output
  const bool relu = o.relu;
  dispatch(x.dtype(), [&]<class T>() {
    kernels::conv_forward(x.value().data<T>(), kernel.value().data<T>(), g, y.data<T>(),
                          bias.defined() ? bias.value().data<T>() : static_cast<const T*>(nullptr), relu);
  });

  // With the ReLU fused, the output is kept (it is the op's value, so this costs no memory) for the ReLU's gradient:
  // out > 0 exactly where the pre-activation was, and the pre-activation itself is never stored.
  return record(relu ? "conv2d_relu" : "conv2d", y, {&x, &kernel, &bias}, [x, kernel, bias, g, y, relu](const Tensor& gy) {
    Tensor db;
    const Tensor g_conv = conv_output_gradient(gy, y, relu, bias.defined() && bias.requires_grad() ? &db : nullptr);
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
      if (db.defined()) bias.node()->accumulate_grad(std::move(db));
    });
  });
}

}  // namespace tg
