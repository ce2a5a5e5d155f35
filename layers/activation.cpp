#include "layers/activation.h"

#include "layers/activation_functions.h"
#include "layers/layer_arguments.h"

namespace tg {

Activation::Activation(const std::string& activation) : activation_(parse_activation(activation, "Activation")) {}

Shape Activation::output_shape(const std::vector<Shape>& inputs) const {
  return single_input(inputs, class_name(), false);
}

Variable Activation::call(const std::vector<Variable>& inputs, CallContext& context) const {
  return context.skip_activation ? inputs[0] : apply_activation(activation_, inputs[0]);
}

std::shared_ptr<Layer> Activation::from_config(const nlohmann::json& c) {
  return std::make_shared<Activation>(c.at("activation").get<std::string>());
}

}  // namespace tg
