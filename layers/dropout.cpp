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
  const BatchParts* parts = context.batch_parts;
  if (context.training && parts && !context.part_rngs.empty()) {
    if (static_cast<int64_t>(context.part_rngs.size()) != parts->local_parts())
      throw std::logic_error("Dropout '" + name() + "': " + std::to_string(context.part_rngs.size()) +
                             " generators for " + std::to_string(parts->local_parts()) + " parts of the batch");
    if (parts->local_parts() == 1) return dropout(inputs[0], rate_, true, context.part_rngs[0]);
    std::vector<Variable> masked;
    for (int64_t l = 0; l < parts->local_parts(); ++l)
      if (parts->bounds[l + 1] > parts->bounds[l])
        masked.push_back(dropout(slice_batch(inputs[0], parts->bounds[l], parts->bounds[l + 1]), rate_, true,
                                 context.part_rngs[l]));
    return concat(masked, 0);
  }
  Rng none;
  return dropout(inputs[0], rate_, context.training, context.rng ? *context.rng : none);
}

std::shared_ptr<Layer> Dropout::from_config(const nlohmann::json& c) {
  return std::make_shared<Dropout>(c.at("rate").get<double>());
}

}  // namespace tg
