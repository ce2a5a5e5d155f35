#include <cmath>
#include <limits>

#include "tests/optim/optim_test_util.h"

using namespace tg;
using namespace tg::testing;

TEST_CASE("schedules: constant, step decay and cosine (with and without warm-up) match Keras's formulas") {
  const nlohmann::json& s = optim_fixtures().at("schedules");
  const auto steps = s.at("steps").get<std::vector<int64_t>>();
  for (auto& [name, c] : s.at("cases").items()) {
    INFO("schedule " << name);
    auto schedule = make_schedule(c.at("config"), 1.0);
    for (size_t i = 0; i < steps.size(); ++i) {
      INFO("step " << steps[i]);
      CHECK(std::fabs((*schedule)(steps[i]) - c["values"][i].get<double>()) < 1e-12);
    }
    // config() rebuilds the same schedule.
    auto rebuilt = make_schedule(schedule->config(), 99.0);
    for (int64_t step : steps) CHECK((*rebuilt)(step) == (*schedule)(step));
  }
}

TEST_CASE("schedules: cosine by hand at its landmarks") {
  CosineDecay cosine(0.1, 10, 0.2);
  CHECK((cosine)(0) == doctest::Approx(0.1));
  CHECK((cosine)(5) == doctest::Approx(0.1 * (0.8 * 0.5 + 0.2)));  // half way: cos = 0
  CHECK((cosine)(10) == doctest::Approx(0.02));
  CHECK((cosine)(1000) == doctest::Approx(0.02));  // stays at alpha * initial
  CosineDecay warm(0.0, 10, 0.0, 4, 0.2);
  CHECK((warm)(2) == doctest::Approx(0.1));  // half of the warm-up
  CHECK((warm)(4) == doctest::Approx(0.2));  // peak
  CHECK((warm)(14) == doctest::Approx(0.0));
  CHECK_THROWS_WITH_AS(CosineDecay(0.1, 10, 0.0, 5), doctest::Contains("needs a warmup_target"),
                       std::invalid_argument);
}

TEST_CASE("schedules: ReduceLROnPlateau follows Keras's callback (patience, min_delta, cooldown, min_lr)") {
  // Hand-traced: patience 2, cooldown 1, factor 0.5, min_lr 0.02, min_delta 0.01, minimising val_loss.
  ReduceLROnPlateau plateau(0.1, {.monitor = "val_loss", .factor = 0.5, .patience = 2, .min_delta = 0.01,
                                  .cooldown = 1, .min_lr = 0.02});
  struct Epoch {
    double val_loss, lr_after;
    bool changed;
  };
  const std::vector<Epoch> epochs = {
      {1.00, 0.1, false},    // best = 1.00
      {0.995, 0.1, false},   // not better by min_delta: wait 1
      {0.98, 0.1, false},    // better: best 0.98, wait 0
      {0.98, 0.1, false},    // wait 1
      {0.975, 0.05, true},   // wait 2 >= patience: halve, cooldown 1
      {0.99, 0.05, false},   // cooldown epoch: counter 1 -> 0, wait 0, then (not in cooldown) wait 1
      {0.99, 0.025, true},   // wait 2: halve again
      {0.99, 0.025, false},  // cooldown: wait reset, then wait 1
      {0.99, 0.02, true},    // 0.0125 clipped to min_lr
      {0.99, 0.02, false},   // cooldown
      {0.99, 0.02, false},   // wait 2 but already at min_lr: unchanged
      {0.50, 0.02, false},   // improvement
  };
  for (size_t e = 0; e < epochs.size(); ++e) {
    INFO("epoch " << e);
    CHECK(plateau.on_epoch_end({{"val_loss", epochs[e].val_loss}, {"loss", 0.0}}) == epochs[e].changed);
    CHECK(plateau(0) == doctest::Approx(epochs[e].lr_after));
  }
}

TEST_CASE("schedules: ReduceLROnPlateau maximises Dice/IoU/accuracy under mode auto, and its state round-trips") {
  CHECK(metric_is_maximized("val_mean_iou"));
  CHECK(metric_is_maximized("val_dice_1"));
  CHECK(metric_is_maximized("accuracy"));
  CHECK_FALSE(metric_is_maximized("val_loss"));
  CHECK_FALSE(metric_is_maximized("val_mean_iou", MonitorMode::Min));

  ReduceLROnPlateau p(1.0, {.monitor = "val_mean_iou", .factor = 0.1, .patience = 1});
  CHECK_FALSE(p.on_epoch_end({{"val_mean_iou", 0.5}}));
  CHECK_FALSE(p.on_epoch_end({{"val_mean_iou", 0.6}}));
  CHECK(p.on_epoch_end({{"val_mean_iou", 0.55}}));
  CHECK(p(0) == doctest::Approx(0.1));

  ReduceLROnPlateau fresh(1.0, {.monitor = "val_mean_iou", .factor = 0.1, .patience = 1});
  const nlohmann::json initial = fresh.state();
  CHECK(initial.at("best") == "-inf");  // JSON has no infinity
  fresh.load_state(nlohmann::json::parse(p.state().dump()));
  CHECK(fresh.state() == p.state());
  CHECK(fresh(0) == p(0));

  CHECK_THROWS_WITH_AS(p.on_epoch_end({{"loss", 1.0}}), doctest::Contains("monitors 'val_mean_iou'"),
                       std::runtime_error);
}

TEST_CASE("schedules: unknown names and missing fields are reported") {
  CHECK_THROWS_WITH_AS(make_schedule({{"name", "linear"}}, 0.1), doctest::Contains("unknown learning-rate schedule"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_schedule({{"name", "cosine"}}, 0.1), doctest::Contains("decay_steps"),
                       std::invalid_argument);
  CHECK((*make_schedule({{"name", "step_decay"}, {"decay_steps", 2}}, 0.4))(2) == doctest::Approx(0.2));
}
