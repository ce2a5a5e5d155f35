#include "layers/conv2d_transpose.h"

#include "layers/layer_arguments.h"

namespace tg {

Conv2DTranspose& Conv2DTranspose::output_padding(std::array<int, 2> p) {
  output_padding_ = p;
  return *this;
}

Shape Conv2DTranspose::output_shape(const std::vector<Shape>& inputs) const {
  const Shape& in = single_input(inputs, class_name(), true);
  Shape out{0, 0, filters_};
  for (int a = 0; a < 2; ++a) {
    if (output_padding_[a] >= 0 && output_padding_[a] >= strides_[a])
      throw ShapeError("Its output_padding " + std::to_string(output_padding_[a]) +
                       " must be smaller than its stride " + std::to_string(strides_[a]) + " (as in Keras).");
    out[a] = conv_transpose_output_size(static_cast<int>(in[a]), kernel_size_[a], strides_[a], dilation_[a],
                                        padding_, output_padding_[a]);
    if (out[a] <= 0)
      throw ShapeError("Its output would be empty (" + std::to_string(out[a]) + " along " +
                       (a == 0 ? "height" : "width") + "); check output_padding.");
  }
  return out;
}

void Conv2DTranspose::build(const std::vector<Shape>& inputs) {
  add_conv_weights({kernel_size_[0], kernel_size_[1], filters_, inputs[0][2]});
}

Variable Conv2DTranspose::call(const std::vector<Variable>& inputs, CallContext& context) const {
  ConvOptions o = options();
  o.output_padding = output_padding_;
  return activate(conv2d_transpose(inputs[0], kernel(), bias(), o), context);
}

// What 'same' means for a transposed convolution: the full result is cropped, the extra row/column at the
// bottom/right, by the 'same' padding of the convolution it transposes.
std::string Conv2DTranspose::padding_note(const std::vector<Shape>& inputs) const {
  if (padding_ != Padding::Same) return "valid";
  const Shape out = output_shape(inputs);
  const auto h = same_padding_1d(static_cast<int>(out[0]), kernel_size_[0], strides_[0], dilation_[0]);
  const auto w = same_padding_1d(static_cast<int>(out[1]), kernel_size_[1], strides_[1], dilation_[1]);
  return "crop " + pad_str({h[0], h[1], w[0], w[1]});
}

nlohmann::json Conv2DTranspose::config() const {
  nlohmann::json c = ConvLayer::config();
  c["output_padding"] = output_padding_;
  return c;
}

void Conv2DTranspose::read_config(const nlohmann::json& c) {
  ConvLayer::read_config(c);
  output_padding(c.at("output_padding").get<std::array<int, 2>>());
}

}  // namespace tg
