#include "layers/conv2d_transpose.h"

#include "autograd/ops.h"
#include "layers/activations.h"
#include "layers/initializers.h"
#include "layers/layer_util.h"

namespace tg {

Conv2DTranspose::Conv2DTranspose(int filters, std::array<int, 2> kernel_size)
    : filters_(filters), kernel_size_(positive_pair(kernel_size, "kernel_size", "Conv2DTranspose")) {
  if (filters <= 0)
    throw std::invalid_argument("Conv2DTranspose: filters must be positive, got " + std::to_string(filters));
}

Conv2DTranspose& Conv2DTranspose::strides(std::array<int, 2> s) {
  strides_ = positive_pair(s, "strides", "Conv2DTranspose");
  return *this;
}
Conv2DTranspose& Conv2DTranspose::padding(const std::string& p) {
  padding_ = checked_padding(p, "Conv2DTranspose");
  return *this;
}
Conv2DTranspose& Conv2DTranspose::output_padding(std::array<int, 2> p) {
  output_padding_ = p;
  return *this;
}
Conv2DTranspose& Conv2DTranspose::dilation_rate(std::array<int, 2> d) {
  dilation_ = positive_pair(d, "dilation_rate", "Conv2DTranspose");
  return *this;
}
Conv2DTranspose& Conv2DTranspose::activation(const std::string& a) {
  activation_ = checked_activation(a, "Conv2DTranspose");
  return *this;
}
Conv2DTranspose& Conv2DTranspose::use_bias(bool b) {
  use_bias_ = b;
  return *this;
}
Conv2DTranspose& Conv2DTranspose::kernel_initializer(const std::string& i) {
  kernel_initializer_ = checked_initializer(i, "Conv2DTranspose");
  return *this;
}
Conv2DTranspose& Conv2DTranspose::bias_initializer(const std::string& i) {
  bias_initializer_ = checked_initializer(i, "Conv2DTranspose");
  return *this;
}

Conv2DTransposeOptions Conv2DTranspose::options() const {
  Conv2DTransposeOptions o;
  o.strides = strides_;
  o.dilation = dilation_;
  o.padding = to_padding(padding_);
  o.output_padding = output_padding_;
  return o;
}

Shape Conv2DTranspose::output_shape(const std::vector<Shape>& inputs) const {
  const Shape& in = single_input(inputs, class_name(), true);
  Shape out{0, 0, filters_};
  for (int a = 0; a < 2; ++a) {
    if (output_padding_[a] >= 0 && output_padding_[a] >= strides_[a])
      throw ShapeError("Its output_padding " + std::to_string(output_padding_[a]) +
                       " must be smaller than its stride " + std::to_string(strides_[a]) + " (as in Keras).");
    out[a] = conv_transpose_output_size(static_cast<int>(in[a]), kernel_size_[a], strides_[a], dilation_[a],
                                        to_padding(padding_), output_padding_[a]);
    if (out[a] <= 0)
      throw ShapeError("Its output would be empty (" + std::to_string(out[a]) + " along " +
                       (a == 0 ? "height" : "width") + "); check output_padding.");
  }
  return out;
}

void Conv2DTranspose::build(const std::vector<Shape>& inputs) {
  add_weight("kernel", {kernel_size_[0], kernel_size_[1], filters_, inputs[0][2]}, true, kernel_initializer_);
  if (use_bias_) add_weight("bias", {filters_}, true, bias_initializer_);
}

Variable Conv2DTranspose::call(const std::vector<Variable>& inputs, CallContext& context) const {
  Variable y = conv2d_transpose(inputs[0], weight(0), use_bias_ ? weight(1) : Variable(), options());
  return context.skip_activation ? y : apply_activation(activation_, y);
}

// What 'same' means for a transposed convolution: the full result is cropped, the extra row/column at the
// bottom/right, by the 'same' padding of the convolution it transposes.
std::string Conv2DTranspose::padding_note(const std::vector<Shape>& inputs) const {
  if (padding_ != "same") return "valid";
  const Shape out = output_shape(inputs);
  const auto h = same_padding_1d(static_cast<int>(out[0]), kernel_size_[0], strides_[0], dilation_[0]);
  const auto w = same_padding_1d(static_cast<int>(out[1]), kernel_size_[1], strides_[1], dilation_[1]);
  return "crop " + pad_str({h[0], h[1], w[0], w[1]});
}

nlohmann::json Conv2DTranspose::config() const {
  return {{"filters", filters_},
          {"kernel_size", kernel_size_},
          {"strides", strides_},
          {"padding", padding_},
          {"output_padding", output_padding_},
          {"dilation_rate", dilation_},
          {"activation", activation_},
          {"use_bias", use_bias_},
          {"kernel_initializer", kernel_initializer_},
          {"bias_initializer", bias_initializer_}};
}

std::shared_ptr<Layer> Conv2DTranspose::from_config(const nlohmann::json& c) {
  auto l = std::make_shared<Conv2DTranspose>(c.at("filters").get<int>(),
                                             c.at("kernel_size").get<std::array<int, 2>>());
  l->strides(c.at("strides").get<std::array<int, 2>>())
      .padding(c.at("padding").get<std::string>())
      .output_padding(c.at("output_padding").get<std::array<int, 2>>())
      .dilation_rate(c.at("dilation_rate").get<std::array<int, 2>>())
      .activation(c.at("activation").get<std::string>())
      .use_bias(c.at("use_bias").get<bool>())
      .kernel_initializer(c.at("kernel_initializer").get<std::string>())
      .bias_initializer(c.at("bias_initializer").get<std::string>());
  return l;
}

}  // namespace tg
