#include "layers/conv_family.h"

#include "layers/initializers.h"
#include "layers/layer_arguments.h"

namespace tg {

ConvLayer::ConvLayer(const char* who, int filters, std::array<int, 2> kernel_size)
    : filters_(filters), kernel_size_(positive_pair(kernel_size, "kernel_size", who)) {
  if (filters <= 0)
    throw std::invalid_argument(std::string(who) + ": filters must be positive, got " + std::to_string(filters));
}

void ConvLayer::set_strides(std::array<int, 2> s) {
  strides_ = positive_pair(s, "strides", class_name());
  check_strides_and_dilation();
}
void ConvLayer::set_dilation(std::array<int, 2> d) {
  dilation_ = positive_pair(d, "dilation_rate", class_name());
  check_strides_and_dilation();
}
void ConvLayer::set_padding(const std::string& p) { padding_ = parse_padding(p, class_name()); }
void ConvLayer::set_activation(const std::string& a) { activation_ = parse_activation(a, class_name()); }
void ConvLayer::set_kernel_initializer(const std::string& i) {
  kernel_initializer_ = checked_initializer(i, class_name());
}
void ConvLayer::set_bias_initializer(const std::string& i) { bias_initializer_ = checked_initializer(i, class_name()); }

nlohmann::json ConvLayer::config() const {
  return {{"filters", filters_},
          {"kernel_size", kernel_size_},
          {"strides", strides_},
          {"padding", padding_name(padding_)},
          {"dilation_rate", dilation_},
          {"activation", activation()},
          {"use_bias", use_bias_},
          {"kernel_initializer", kernel_initializer_},
          {"bias_initializer", bias_initializer_}};
}

void ConvLayer::read_config(const nlohmann::json& c) {
  set_strides(c.at("strides").get<std::array<int, 2>>());
  set_padding(c.at("padding").get<std::string>());
  set_dilation(c.at("dilation_rate").get<std::array<int, 2>>());
  set_activation(c.at("activation").get<std::string>());
  use_bias_ = c.at("use_bias").get<bool>();
  set_kernel_initializer(c.at("kernel_initializer").get<std::string>());
  set_bias_initializer(c.at("bias_initializer").get<std::string>());
}

void ConvLayer::add_conv_weights(Shape kernel_shape) {
  add_weight("kernel", std::move(kernel_shape), true, kernel_initializer_);
  if (use_bias_) add_weight("bias", {filters_}, true, bias_initializer_);
}

ConvOptions ConvLayer::options() const {
  ConvOptions o;
  o.strides = strides_;
  o.dilation = dilation_;
  o.padding = padding_;
  return o;
}

Variable ConvLayer::activate(const Variable& y, const CallContext& context) const {
  return context.skip_activation ? y : apply_activation(activation_, y);
}

}  // namespace tg
