#include "optim/factory.h"

#include <set>
#include <stdexcept>

#include "optim/adam.h"
#include "optim/sgd.h"

namespace tg {

namespace {
void check_fields(const nlohmann::json& config, const std::string& name, const std::set<std::string>& allowed) {
  for (auto& [key, value] : config.items())
    if (!allowed.contains(key)) {
      std::string list;
      for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
      throw std::invalid_argument("optimizer '" + name + "' has no setting '" + key + "'; it takes: " + list);
    }
}

template <class Options>
void read_common(const nlohmann::json& c, Options& o) {
  o.learning_rate = c.value("learning_rate", o.learning_rate);
  o.weight_decay = c.value("weight_decay", o.weight_decay);
  o.global_clipnorm = c.value("global_clipnorm", o.global_clipnorm);
  o.exclude_from_weight_decay = c.value("exclude_from_weight_decay", o.exclude_from_weight_decay);
}

template <class Options>
void read_adam(const nlohmann::json& c, Options& o) {
  read_common(c, o);
  o.beta_1 = c.value("beta_1", o.beta_1);
  o.beta_2 = c.value("beta_2", o.beta_2);
  o.epsilon = c.value("epsilon", o.epsilon);
  o.amsgrad = c.value("amsgrad", o.amsgrad);
}
}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const nlohmann::json& config, std::vector<Parameter> parameters) {
  if (!config.is_object() || !config.contains("name"))
    throw std::invalid_argument("optimizer config needs a \"name\" (adam, adamw or sgd), got " + config.dump());
  const std::string name = config.at("name").get<std::string>();
  const std::set<std::string> common = {"name", "learning_rate", "weight_decay", "global_clipnorm",
                                        "exclude_from_weight_decay", "schedule"};
  std::unique_ptr<Optimizer> opt;
  try {
    if (name == "adam" || name == "adamw") {
      std::set<std::string> allowed = common;
      allowed.insert({"beta_1", "beta_2", "epsilon", "amsgrad"});
      check_fields(config, name, allowed);
      if (name == "adam") {
        AdamOptions o;
        read_adam(config, o);
        opt = std::make_unique<Adam>(std::move(parameters), o);
      } else {
        AdamWOptions o;
        read_adam(config, o);
        opt = std::make_unique<AdamW>(std::move(parameters), o);
      }
    } else if (name == "sgd") {
      std::set<std::string> allowed = common;
      allowed.insert({"momentum", "nesterov"});
      check_fields(config, name, allowed);
      SGDOptions o;
      read_common(config, o);
      o.momentum = config.value("momentum", o.momentum);
      o.nesterov = config.value("nesterov", o.nesterov);
      opt = std::make_unique<SGD>(std::move(parameters), o);
    } else {
      throw std::invalid_argument("unknown optimizer '" + name + "'; use adam, adamw or sgd");
    }
    if (config.contains("schedule"))
      opt->set_schedule(make_schedule(config.at("schedule"), opt->common_options().learning_rate));
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("optimizer '" + name + "': a setting has the wrong type: " + e.what());
  }
  return opt;
}

}  // namespace tg
