// Activation("relu"): an activation as a layer of its own.
#pragma once
#include "layers/activation_functions.h"
#include "layers/layer_builder.h"

namespace tg {

class Activation final : public LayerBuilder<Activation> {
 public:
  explicit Activation(const std::string& activation);

  std::string class_name() const override { return "Activation"; }
  std::string base_name() const override { return "activation"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  Variable call(const std::vector<Variable>& inputs, CallContext& context) const override;
  nlohmann::json config() const override { return {{"activation", activation()}}; }
  std::string activation() const override { return activation_name(activation_); }
  bool passes_through() const override { return true; }
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 private:
  ActivationFunction activation_;
};

}  // namespace tg
