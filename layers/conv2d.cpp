#include "layers/conv2d.h"

#include "layers/layer_arguments.h"

namespace tg {

void Conv2D::check_strides_and_dilation() const {
  if ((strides_[0] > 1 || strides_[1] > 1) && (dilation_[0] > 1 || dilation_[1] > 1))
    throw std::invalid_argument("Conv2D: strides > 1 cannot be combined with dilation_rate > 1 (as in Keras)");
}

Shape Conv2D::output_shape(const std::vector<Shape>& inputs) const {
  const Shape& in = single_input(inputs, class_name(), true);
  const auto out = window_output(in, kernel_size_, strides_, dilation_, padding_, "kernel");
  return {out[0], out[1], filters_};
}

void Conv2D::build(const std::vector<Shape>& inputs) {
  add_conv_weights({kernel_size_[0], kernel_size_[1], inputs[0][2], filters_});
}

template <class Convolution>
Variable Conv2D::convolve(Convolution&& conv, const CallContext& context) const {
  // A 'relu' activation runs inside the convolution (as each output tile is stored): the same values, one pass
  // over the output instead of three.
  ConvOptions o = options();
  o.relu = activation_ == ActivationFunction::Relu && !context.skip_activation;
  const Variable y = conv(o);
  return o.relu ? y : activate(y, context);
}

Variable Conv2D::call(const std::vector<Variable>& inputs, CallContext& context) const {
  return convolve([&](const ConvOptions& o) { return conv2d(inputs[0], kernel(), bias(), o); }, context);
}

bool Conv2D::fuses_with_upsampling() const {
  return kernel_size_ == std::array<int, 2>{2, 2} && strides_ == std::array<int, 2>{1, 1} &&
         dilation_ == std::array<int, 2>{1, 1} && padding_ == Padding::Same;
}

Variable Conv2D::call_upsampled(const Variable& x, CallContext& context) const {
  if (!fuses_with_upsampling())
    throw std::logic_error("Conv2D '" + name() + "': only a 2x2, stride-1, undilated 'same' convolution fuses with "
                           "an upsampling");
  return convolve([&](const ConvOptions& o) { return upsample2x_conv2d(x, kernel(), bias(), o.relu); }, context);
}

Variable Conv2D::call_concatenated(const std::vector<Variable>& parts, CallContext& context) const {
  return convolve([&](const ConvOptions& o) { return concat_conv2d(parts, kernel(), bias(), o); }, context);
}

std::string Conv2D::padding_note(const std::vector<Shape>& inputs) const {
  if (padding_ != Padding::Same) return "valid";
  return pad_str(window_padding(inputs[0], kernel_size_, strides_, dilation_, padding_));
}

}  // namespace tg
