// Builds an optimizer from its config() (as stored in config.json and checkpoints) or from a user's JSON settings,
// where every field but "name" may be left out and then takes Keras's default.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>

#include "optim/optimizer.h"

namespace tg {

// config: {"name": "adam"|"adamw"|"sgd", "learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad", "momentum",
// "nesterov", "weight_decay", "global_clipnorm", "exclude_from_weight_decay", "use_ema", "ema_momentum",
// "ema_overwrite_frequency", "schedule": {schedule config}}.
// Throws naming the unknown optimizer or the field that is not understood.
std::unique_ptr<Optimizer> make_optimizer(const nlohmann::json& config, std::vector<Parameter> parameters);

}  // namespace tg
