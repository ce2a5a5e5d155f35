// concat_conv2d: a convolution reading the parts of a channel concatenation where they lie (the U-Net decoder's
// Concatenate -> Conv2D). A convolution is linear in its input channels, so
//   conv(concat(x_0, x_1, ...), W) = sum_p conv(x_p, W_p),   W_p = the kernel's input-channel rows of part p:
// each part's convolution adds into the output (the micro-kernels' accumulate epilogue), and bias and ReLU come
// with the last part, once the output holds the whole sum. Backward gives each part's input gradient directly,
// where the unfused pair writes the gradient of the concatenation and then splits it. The sum is taken in another
// order than conv2d's (part by part rather than tap by tap), so values agree with it to float32 rounding.
#include <algorithm>
#include <string>

#include "autograd/kernels/conv_gemm.h"
#include "autograd/kernels/deterministic_sums.h"
#include "autograd/ops.h"
#include "autograd/ops/activation_gradients.h"
#include "autograd/ops/conv_family.h"
#include "autograd/parallel.h"

namespace tg {

namespace {

// The input channels [c0, c0 + c) of every tap of an HWIO kernel [taps, cin, cout], as a kernel [taps, c, cout]...
template <class T>
void copy_channel_rows(const T* w, int64_t taps, int64_t cin, int64_t cout, int64_t c0, int64_t c, T* part) {
  for (int64_t t = 0; t < taps; ++t) std::copy_n(w + (t * cin + c0) * cout, c * cout, part + t * c * cout);
}
// ...and back: a part's kernel gradient into its rows of the whole kernel's.
template <class T>
void paste_channel_rows(const T* part, int64_t taps, int64_t cin, int64_t cout, int64_t c0, int64_t c, T* w) {
  for (int64_t t = 0; t < taps; ++t) std::copy_n(part + t * c * cout, c * cout, w + (t * cin + c0) * cout);
}

struct Part {
  kernels::ConvGeometry geometry;
  int64_t first_channel;
  Tensor kernel;  // the part's rows of the kernel
};

template <class T>
void forward_parts(const std::vector<Variable>& xs, const std::vector<Part>& parts, const T* bias, bool relu, T* y) {
  const int64_t last = static_cast<int64_t>(parts.size()) - 1;
  if constexpr (std::is_same_v<T, float>) {
    for (int64_t p = 0; p <= last; ++p)
      kernels::conv_forward(xs[p].value().data<float>(), parts[p].kernel.data<float>(), parts[p].geometry, y,
                            kernels::GemmEpilogue{p > 0, p == last ? bias : nullptr, p == last && relu});
  } else {
    // float64, gradcheck's precision: plainly, part by part into a scratch output that is added on.
    const kernels::ConvGeometry& g = parts[0].geometry;
    const int64_t size = g.lines() * g.out_w * g.out_c;
    Tensor scratch = Tensor::empty({last > 0 ? size : 0}, dtype_of<T>());
    for (int64_t p = 0; p <= last; ++p) {
      T* out = p == 0 ? y : scratch.data<T>();
      kernels::conv_forward(xs[p].value().data<T>(), parts[p].kernel.data<T>(), parts[p].geometry, out);
      if (p > 0)
        for (int64_t i = 0; i < size; ++i) y[i] += out[i];
    }
    for (int64_t i = 0; i < size; ++i) {
      T v = y[i];
      if (bias) v += bias[i % g.out_c];
      if (relu) v = v < 0 ? T(0) : v;
      y[i] = v;
    }
  }
}

}  // namespace

Variable concat_conv2d(const std::vector<Variable>& xs, const Variable& kernel, const Variable& bias,
                       const ConvOptions& o) {
  if (xs.empty()) throw std::invalid_argument("concat_conv2d: needs at least one input, got an empty list");
  int64_t channels = 0;
  for (size_t p = 0; p < xs.size(); ++p) {
    const Variable& x = xs[p];
    if (!x.defined() || x.rank() != 4)
      throw std::invalid_argument("concat_conv2d: input " + std::to_string(p) + " must be [N, H, W, C], got " +
                                  (x.defined() ? shape_str(x.shape()) : "an undefined Variable"));
    if (x.dtype() != xs[0].dtype() || !std::equal(x.shape().begin(), x.shape().begin() + 3, xs[0].shape().begin()))
      throw std::invalid_argument("concat_conv2d: input " + std::to_string(p) + " (" + shape_str(x.shape()) + " " +
                                  dtype_name(x.dtype()) + ") cannot be joined along channels with input 0 (" +
                                  shape_str(xs[0].shape()) + " " + dtype_name(xs[0].dtype()) + ")");
    channels += x.dim(3);
  }
  const Shape joined{xs[0].dim(0), xs[0].dim(1), xs[0].dim(2), channels};
  const kernels::ConvGeometry g = conv_family::conv2d_geometry("concat_conv2d", joined, xs[0].dtype(), kernel, bias, o);

  const int64_t taps = g.kernel_h * g.kernel_w, cout = g.out_c;
  std::vector<Part> parts;
  for (int64_t p = 0, c0 = 0; p < static_cast<int64_t>(xs.size()); c0 += xs[p].dim(3), ++p) {
    Part part{g, c0, Tensor::empty({g.kernel_h, g.kernel_w, xs[p].dim(3), cout}, kernel.dtype())};
    part.geometry.in_c = xs[p].dim(3);
    dispatch(kernel.dtype(), [&]<class T>() {
      copy_channel_rows(kernel.value().data<T>(), taps, channels, cout, c0, part.geometry.in_c, part.kernel.data<T>());
    });
    parts.push_back(std::move(part));
  }

  Tensor y = Tensor::empty({g.batch, g.out_h, g.out_w, cout}, kernel.dtype());  // the first part writes all of it
  const bool relu = o.relu;
  dispatch(kernel.dtype(), [&]<class T>() {
    forward_parts(xs, parts, bias.defined() ? bias.value().data<T>() : static_cast<const T*>(nullptr), relu,
                  y.data<T>());
  });

  std::vector<Variable> inputs = xs;
  inputs.push_back(kernel);
  inputs.push_back(bias);
  // As conv2d's fused ReLU: the output (the op's value) gives the ReLU's gradient.
  return record(relu ? "conv2d_concat_relu" : "conv2d_concat", y, inputs,
                [xs, kernel, bias, parts, g, y, relu, channels](const Tensor& gy) {
    Tensor db;
    const Tensor g_conv = conv_output_gradient(gy, y, relu, bias.defined() && bias.requires_grad() ? &db : nullptr);
    dispatch(g_conv.dtype(), [&]<class T>() {
      const T* dy = g_conv.data<T>();
      Tensor dw = kernel.requires_grad() ? Tensor::empty(kernel.shape(), g_conv.dtype()) : Tensor();
      for (size_t p = 0; p < parts.size(); ++p) {
        const Part& part = parts[p];
        if (xs[p].requires_grad()) {
          Tensor dx = Tensor::empty(xs[p].shape(), g_conv.dtype());
          kernels::conv_input_grad(dy, part.kernel.data<T>(), part.geometry, dx.data<T>());
          xs[p].node()->accumulate_grad(std::move(dx));
        }
        if (dw.defined()) {
          Tensor dw_part = Tensor::empty(part.kernel.shape(), g_conv.dtype());
          kernels::conv_kernel_grad(xs[p].value().data<T>(), dy, part.geometry, dw_part.data<T>());
          paste_channel_rows(dw_part.data<T>(), g.kernel_h * g.kernel_w, channels, g.out_c, part.first_channel,
                             part.geometry.in_c, dw.data<T>());
        }
      }
      if (dw.defined()) kernel.node()->accumulate_grad(std::move(dw));
      if (db.defined()) bias.node()->accumulate_grad(std::move(db));
    });
  });
}

}  // namespace tg
