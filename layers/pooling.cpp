#include "layers/pooling.h"

#include "autograd/ops.h"
#include "layers/layer_arguments.h"

namespace tg {

Pooling2D::Pooling2D(std::array<int, 2> pool_size) : pool_size_(positive_pair(pool_size, "pool_size", "pooling")) {}

void Pooling2D::set_strides(std::array<int, 2> s) { strides_ = positive_pair(s, "strides", class_name()); }

void Pooling2D::set_padding(const std::string& p) { padding_ = parse_padding(p, class_name()); }

Pool2DOptions Pooling2D::options() const { return {pool_size_, effective_strides(), padding_}; }

Shape Pooling2D::output_shape(const std::vector<Shape>& inputs) const {
  const Shape& in = single_input(inputs, class_name(), true);
  const auto out = window_output(in, pool_size_, effective_strides(), {1, 1}, padding_, "pool");
  return {out[0], out[1], in[2]};
}

std::string Pooling2D::padding_note(const std::vector<Shape>& inputs) const {
  if (padding_ != Padding::Same) return "valid";
  return pad_str(window_padding(inputs[0], pool_size_, effective_strides(), {1, 1}, padding_));
}

nlohmann::json Pooling2D::config() const {
  return {{"pool_size", pool_size_}, {"strides", effective_strides()}, {"padding", padding_name(padding_)}};
}

void Pooling2D::read_config(const nlohmann::json& c) {
  set_strides(c.at("strides").get<std::array<int, 2>>());
  set_padding(c.at("padding").get<std::string>());
}

Variable MaxPooling2D::call(const std::vector<Variable>& inputs, CallContext&) const {
  return max_pool2d(inputs[0], options());
}

Variable AveragePooling2D::call(const std::vector<Variable>& inputs, CallContext&) const {
  return avg_pool2d(inputs[0], options());
}

}  // namespace tg
