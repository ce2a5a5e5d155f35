// Input: the entry of a functional graph, a shape without the batch axis.
#pragma once
#include "layers/graph.h"
#include "layers/layer.h"

namespace tg {

class InputLayer final : public Layer {
 public:
  explicit InputLayer(Shape shape);
  std::string class_name() const override { return "InputLayer"; }
  std::string base_name() const override { return "input"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  Variable call(const std::vector<Variable>& inputs, CallContext& context) const override;
  nlohmann::json config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 private:
  Shape shape_;
};

// `auto x = Input({256, 256, 1});` every size known (tapegrad has no None dimensions).
SymbolicTensor Input(Shape shape, std::string name = "");

}  // namespace tg
