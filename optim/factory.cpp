#include "optim/factory.h"

#include <stdexcept>

#include "optim/adam.h"
#include "optim/json_options.h"
#include "optim/sgd.h"

namespace tg {

namespace {
enum class OptimizerKind { Adam, AdamW, SGD };
NLOHMANN_JSON_SERIALIZE_ENUM(OptimizerKind, {{OptimizerKind::Adam, "adam"},
                                             {OptimizerKind::AdamW, "adamw"},
                                             {OptimizerKind::SGD, "sgd"}})

// The options of one optimizer from its config: every key the options have, besides "name" and "schedule".
template <class Options>
Options read_options(const nlohmann::json& config, const std::string& name) {
  nlohmann::json accepted = Options{};
  accepted["name"] = name;
  accepted["schedule"] = nullptr;
  const std::string owner = "optimizer '" + name + "'";
  check_known_keys(config, accepted, owner);
  return settings_from_json<Options>(config, owner);
}
}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const nlohmann::json& config, std::vector<Parameter> parameters) {
  if (!config.is_object() || !config.contains("name"))
    throw std::invalid_argument("optimizer config needs a \"name\" (adam, adamw or sgd), got " + config.dump());
  const nlohmann::json& name_json = config.at("name");
  if (!name_json.is_string() || nlohmann::json(name_json.get<OptimizerKind>()) != name_json)
    throw std::invalid_argument("unknown optimizer '" + (name_json.is_string() ? name_json.get<std::string>() : name_json.dump()) +
                                "'; use " + join_names(enum_names<OptimizerKind>()));
  const std::string name = name_json.get<std::string>();
  std::unique_ptr<Optimizer> opt;
  switch (name_json.get<OptimizerKind>()) {
    case OptimizerKind::Adam:
      opt = std::make_unique<Adam>(std::move(parameters), read_options<AdamOptions>(config, name));
      break;
    case OptimizerKind::AdamW:
      opt = std::make_unique<AdamW>(std::move(parameters), read_options<AdamWOptions>(config, name));
      break;
    case OptimizerKind::SGD:
      opt = std::make_unique<SGD>(std::move(parameters), read_options<SGDOptions>(config, name));
      break;
  }
  if (config.contains("schedule"))
    opt->set_schedule(make_schedule(config.at("schedule"), opt->common_options().learning_rate));
  return opt;
}

}  // namespace tg
