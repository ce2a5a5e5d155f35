// upsample2x_conv2d: UpSampling2D(2, nearest) followed by Conv2D(f, 2, padding 'same') as one op that never
// materialises the upsampled tensor (4x the input); the phase kernels are in autograd/kernels/upsample_conv.h.
#include <string>

#include "autograd/kernels/deterministic_sums.h"
#include "autograd/kernels/upsample_conv.h"
#include "autograd/ops.h"
#include "autograd/ops/activation_gradients.h"
#include "autograd/ops/conv_family.h"

namespace tg {

Variable upsample2x_conv2d(const Variable& x, const Variable& kernel, const Variable& bias, bool relu) {
  if (!x.defined() || x.rank() != 4)
    throw std::invalid_argument("upsample2x_conv2d: input must be [N, H, W, Cin], got " +
                                (x.defined() ? shape_str(x.shape()) : std::string("an undefined Variable")));
  if (kernel.defined() && kernel.rank() == 4 && (kernel.dim(0) != 2 || kernel.dim(1) != 2))
    throw std::invalid_argument("upsample2x_conv2d: kernel must be 2x2 [2, 2, Cin, Cout], got " +
                                shape_str(kernel.shape()));
  ConvOptions o;
  o.padding = Padding::Same;
  const Shape upsampled{x.dim(0), 2 * x.dim(1), 2 * x.dim(2), x.dim(3)};
  const kernels::ConvGeometry g =
      conv_family::conv2d_geometry("upsample2x_conv2d", upsampled, x.dtype(), kernel, bias, o);
  const kernels::UpsampleConvShape s{x.dim(0), x.dim(1), x.dim(2), x.dim(3), g.out_c};

  Tensor y = Tensor::empty({s.batch, 2 * s.in_h, 2 * s.in_w, s.out_c}, x.dtype());  // written in full
  dispatch(x.dtype(), [&]<class T>() {
    kernels::upsample_conv_forward(x.value().data<T>(), kernel.value().data<T>(), s,
                                   bias.defined() ? bias.value().data<T>() : static_cast<const T*>(nullptr), relu,
                                   y.data<T>());
  });

  // As conv2d's fused ReLU: the output (the op's value) gives the ReLU's gradient.
  return record(relu ? "conv2d_upsample2x_relu" : "conv2d_upsample2x", y, {&x, &kernel, &bias},
                [x, kernel, bias, s, y, relu](const Tensor& gy) {
    Tensor db;
    const Tensor g_conv = conv_output_gradient(gy, y, relu, bias.defined() && bias.requires_grad() ? &db : nullptr);
    dispatch(g_conv.dtype(), [&]<class T>() {
      const T* dy = g_conv.data<T>();
      if (x.requires_grad()) {
        Tensor dx = Tensor::empty(x.shape(), g_conv.dtype());
        kernels::upsample_conv_input_grad(dy, kernel.value().data<T>(), s, dx.data<T>());
        x.node()->accumulate_grad(std::move(dx));
      }
      if (kernel.requires_grad()) {
        Tensor dw = Tensor::empty(kernel.shape(), g_conv.dtype());
        kernels::upsample_conv_kernel_grad(x.value().data<T>(), dy, s, dw.data<T>());
        kernel.node()->accumulate_grad(std::move(dw));
      }
      if (db.defined()) bias.node()->accumulate_grad(std::move(db));
    });
  });
}

}  // namespace tg
