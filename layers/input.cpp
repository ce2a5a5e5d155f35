#include "layers/input.h"

namespace tg {

InputLayer::InputLayer(Shape shape) : shape_(std::move(shape)) {
  if (shape_.empty()) throw std::invalid_argument("Input: the shape is empty; give it without the batch axis, e.g. {256, 256, 1}");
  // Sizes are multiplied and passed to int-sized kernels: a sample beyond 2^31 values is refused here, by name,
  // rather than overflowing somewhere downstream.
  constexpr int64_t kMaxSampleValues = int64_t{1} << 31;
  int64_t values = 1;
  for (int64_t d : shape_) {
    if (d <= 0)
      throw std::invalid_argument("Input: shape " + shape_str(shape_) +
                                  " has a non-positive size; every size must be known and positive (no None)");
    if (d > kMaxSampleValues / values)
      throw std::invalid_argument("Input: shape " + shape_str(shape_) + " holds more than 2^31 values per sample");
    values *= d;
  }
}

Shape InputLayer::output_shape(const std::vector<Shape>& inputs) const {
  if (!inputs.empty()) throw ShapeError("an Input layer takes no inputs");
  return shape_;
}

Variable InputLayer::call(const std::vector<Variable>& inputs, CallContext&) const { return inputs.at(0); }

nlohmann::json InputLayer::config() const { return {{"shape", shape_}}; }

std::shared_ptr<Layer> InputLayer::from_config(const nlohmann::json& c) {
  return std::make_shared<InputLayer>(c.at("shape").get<Shape>());
}

SymbolicTensor Input(Shape shape, std::string name) {
  auto layer = std::make_shared<InputLayer>(std::move(shape));
  if (!name.empty()) layer->set_name(std::move(name));
  return connect(std::move(layer), {});
}

}  // namespace tg
