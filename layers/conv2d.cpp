#include "layers/conv2d.h"

#include "autograd/ops.h"
#include "layers/activations.h"
#include "layers/initializers.h"
#include "layers/layer_util.h"

namespace tg {

Conv2D::Conv2D(int filters, std::array<int, 2> kernel_size)
    : filters_(filters), kernel_size_(positive_pair(kernel_size, "kernel_size", "Conv2D")) {
  if (filters <= 0) throw std::invalid_argument("Conv2D: filters must be positive, got " + std::to_string(filters));
}

Conv2D& Conv2D::strides(std::array<int, 2> s) {
  strides_ = positive_pair(s, "strides", "Conv2D");
  check_strides_and_dilation();
  return *this;
}
Conv2D& Conv2D::padding(const std::string& p) {
  padding_ = checked_padding(p, "Conv2D");
  return *this;
}
Conv2D& Conv2D::dilation_rate(std::array<int, 2> d) {
  dilation_ = positive_pair(d, "dilation_rate", "Conv2D");
  check_strides_and_dilation();
  return *this;
}
Conv2D& Conv2D::activation(const std::string& a) {
  activation_ = checked_activation(a, "Conv2D");
  return *this;
}
Conv2D& Conv2D::use_bias(bool b) {
  use_bias_ = b;
  return *this;
}
Conv2D& Conv2D::kernel_initializer(const std::string& i) {
  kernel_initializer_ = checked_initializer(i, "Conv2D");
  return *this;
}
Conv2D& Conv2D::bias_initializer(const std::string& i) {
  bias_initializer_ = checked_initializer(i, "Conv2D");
  return *this;
}

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
  add_weight("kernel", {kernel_size_[0], kernel_size_[1], inputs[0][2], filters_}, true, kernel_initializer_);
  if (use_bias_) add_weight("bias", {filters_}, true, bias_initializer_);
}

Variable Conv2D::call(const std::vector<Variable>& inputs, CallContext& context) const {
  Conv2DOptions o;
  o.strides = strides_;
  o.dilation = dilation_;
  o.padding = to_padding(padding_);
  Variable y = conv2d(inputs[0], weight(0), use_bias_ ? weight(1) : Variable(), o);
  return context.skip_activation ? y : apply_activation(activation_, y);
}

std::string Conv2D::padding_note(const std::vector<Shape>& inputs) const {
  if (padding_ != "same") return "valid";
  return pad_str(window_padding(inputs[0], kernel_size_, strides_, dilation_, padding_));
}

nlohmann::json Conv2D::config() const {
  return {{"filters", filters_},         {"kernel_size", kernel_size_},
          {"strides", strides_},         {"padding", padding_},
          {"dilation_rate", dilation_},  {"activation", activation_},
          {"use_bias", use_bias_},       {"kernel_initializer", kernel_initializer_},
          {"bias_initializer", bias_initializer_}};
}

std::shared_ptr<Layer> Conv2D::from_config(const nlohmann::json& c) {
  auto l = std::make_shared<Conv2D>(c.at("filters").get<int>(), c.at("kernel_size").get<std::array<int, 2>>());
  l->strides(c.at("strides").get<std::array<int, 2>>())
      .padding(c.at("padding").get<std::string>())
      .dilation_rate(c.at("dilation_rate").get<std::array<int, 2>>())
      .activation(c.at("activation").get<std::string>())
      .use_bias(c.at("use_bias").get<bool>())
      .kernel_initializer(c.at("kernel_initializer").get<std::string>())
      .bias_initializer(c.at("bias_initializer").get<std::string>());
  return l;
}

}  // namespace tg
