#include "layers/dropout.h"

#include "autograd/ops.h"
#include "layers/layer_arguments.h"

namespace tg {

Dropout::Dropout(double rate) : rate_(rate) {
  if (!(rate >= 0 && rate < 1))
    throw std::invalid_argument("Dropout: rate must be in [0, 1) (the fraction of units dropped), got " +
                                std::to_string(rate));
}

Shape Dropout::output_shape(const std::vector<Shape>& inputs) const {
  return single_input(inputs, class_name(), false);
}

Variable Dropout::call(const std::vector<Variable>& inputs, CallContext& context) const {
  if (context.training && context.rng == nullptr)
    throw std::logic_error("Dropout '" + name() + "': training without a random generator");
  Rng none;
  return dropout(inputs[0], rate_, context.training, context.rng ? *context.rng : none);
}

std::shared_ptr<Layer> Dropout::from_config(const nlohmann::json& c) {
  return std::make_shared<Dropout>(c.at("rate").get<double>());
}

}  // namespace tg
