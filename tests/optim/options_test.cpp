#include <doctest/doctest.h>

#include <set>
#include <type_traits>

#include "optim/optim.h"

using namespace tg;

namespace {
std::set<std::string> keys(const nlohmann::json& j) {
  std::set<std::string> k;
  for (const auto& [key, value] : j.items()) k.insert(key);
  return k;
}
}  // namespace

TEST_CASE("optimizer options: one base of common settings, Keras's defaults, the same config keys as before") {
  static_assert(std::is_base_of_v<CommonOptions, AdamOptions> && std::is_base_of_v<CommonOptions, SGDOptions> &&
                std::is_base_of_v<AdamOptions, AdamWOptions>);
  CHECK(AdamOptions{}.learning_rate == 1e-3);
  CHECK(SGDOptions{}.learning_rate == 0.01);
  CHECK(AdamWOptions{}.weight_decay == 0.004);
  CHECK(AdamOptions{}.weight_decay == 0.0);

  const auto adamw = make_optimizer({{"name", "adamw"}}, {});
  CHECK(adamw->common_options().weight_decay == 0.004);
  const auto sgd = make_optimizer({{"name", "sgd"}, {"momentum", 0.9}}, {});
  CHECK(sgd->common_options().learning_rate == 0.01);
  CHECK(dynamic_cast<const SGD&>(*sgd).options().momentum == 0.9);

  const std::set<std::string> common = {"name", "learning_rate", "weight_decay", "global_clipnorm",
                                        "exclude_from_weight_decay", "use_ema", "ema_momentum",
                                        "ema_overwrite_frequency", "schedule"};
  std::set<std::string> adam_keys = common, sgd_keys = common;
  adam_keys.insert({"beta_1", "beta_2", "epsilon", "amsgrad"});
  sgd_keys.insert({"momentum", "nesterov"});
  CHECK(keys(adamw->config()) == adam_keys);
  CHECK(keys(sgd->config()) == sgd_keys);
  // config() rebuilds the same optimizer.
  CHECK(make_optimizer(adamw->config(), {})->config() == adamw->config());
  CHECK(make_optimizer(sgd->config(), {})->config() == sgd->config());
}

TEST_CASE("optimizer options: unknown settings and names are refused with what is accepted") {
  CHECK_THROWS_WITH_AS(make_optimizer({{"name", "sgd"}, {"beta_1", 0.9}}, {}),
                       doctest::Contains("optimizer 'sgd' has no setting 'beta_1'; it takes: "), std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_optimizer({{"name", "sgd"}, {"beta_1", 0.9}}, {}), doctest::Contains("momentum"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_optimizer({{"name", "rmsprop"}}, {}), doctest::Contains("use adam, adamw, sgd"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_schedule({{"name", "reduce_on_plateau"}, {"mode", "up"}}, 0.1),
                       doctest::Contains("mode must be one of auto, min, max; got \"up\""), std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_schedule({{"name", "cosine"}, {"decay_steps", 10}, {"decay_rate", 0.5}}, 0.1),
                       doctest::Contains("has no setting 'decay_rate'"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_schedule({{"name", "linear"}}, 0.1),
                       doctest::Contains("use constant, step_decay, cosine, reduce_on_plateau"), std::invalid_argument);
}

TEST_CASE("schedule options: ReduceLROnPlateau's config keeps its keys, the mode as a name, and rebuilds itself") {
  ReduceLROnPlateau p(0.1, {.monitor = "val_mean_iou", .factor = 0.5, .patience = 2, .mode = MonitorMode::Max});
  const nlohmann::json c = p.config();
  CHECK(keys(c) == std::set<std::string>{"name", "initial_learning_rate", "monitor", "factor", "patience", "mode",
                                         "min_delta", "cooldown", "min_lr"});
  CHECK(c.at("mode") == "max");
  CHECK(make_schedule(c, 1.0)->config() == c);
  // Earlier configs wrote mode as the same names.
  CHECK(make_schedule({{"name", "reduce_on_plateau"}, {"monitor", "loss"}, {"mode", "min"}}, 0.1)->config().at("mode") ==
        "min");
}
