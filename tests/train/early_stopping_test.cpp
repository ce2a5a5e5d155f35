#include <doctest/doctest.h>

#include <limits>

#include "tests/train/train_test_util.h"
#include "train/best_metric.h"
#include "train/checkpoint.h"
#include "train/early_stopping.h"

using namespace tg;
using namespace tg::train;
using namespace tg::train::testing;
namespace fs = std::filesystem;

namespace {
// The epochs (1-based) at which on_epoch_end says stop, feeding `values` one per epoch.
std::vector<int64_t> stops(EarlyStopping& es, EarlyStoppingState& state, const std::vector<double>& values,
                           const Model& model) {
  std::vector<int64_t> at;
  for (size_t i = 0; i < values.size(); ++i)
    if (es.on_epoch_end(state, values[i], static_cast<int64_t>(i + 1), model)) at.push_back(static_cast<int64_t>(i + 1));
  return at;
}
}  // namespace

TEST_CASE("early stopping: Keras's rule, worked by hand (min_delta moves the bar, wait counts epochs since best)") {
  const Model model = one_conv();
  EarlyStopping es(/*patience=*/2, /*min_delta=*/0.1, /*maximize=*/false, false);
  EarlyStoppingState s = es.initial_state();
  CHECK(s.best == std::numeric_limits<double>::infinity());
  // 1.0 best; 0.95 is not 0.1 better (wait 1); 0.85 is (best, epoch 3); 0.80 and 0.79 are not: stop at epoch 5.
  CHECK(stops(es, s, {1.0, 0.95, 0.85, 0.80, 0.79}, model) == std::vector<int64_t>{5});
  CHECK(s.best == 0.85);
  CHECK(s.best_epoch == 3);
  CHECK(s.wait == 2);

  EarlyStopping up(1, 0.0, /*maximize=*/true, false);
  EarlyStoppingState u = up.initial_state();
  CHECK(stops(up, u, {0.5, 0.6, 0.6}, model) == std::vector<int64_t>{3});  // equal is no improvement

  // Keras never stops after the first epoch, even when it did not improve on the start.
  EarlyStopping nan_run(1, 0.0, false, false);
  EarlyStoppingState n = nan_run.initial_state();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(stops(nan_run, n, {nan, nan}, model) == std::vector<int64_t>{2});

  EarlyStopping off(0, 0.0, false, false);
  EarlyStoppingState o = off.initial_state();
  CHECK_FALSE(off.enabled());
  CHECK(stops(off, o, {1, 2, 3, 4, 5}, model).empty());

  const EarlyStoppingState back = EarlyStoppingState::from_json(nlohmann::json::parse(s.to_json().dump()));
  CHECK(back.best == s.best);
  CHECK(back.best_epoch == s.best_epoch);
  CHECK(back.wait == s.wait);
  CHECK(EarlyStoppingState::from_json(es.initial_state().to_json()).best == std::numeric_limits<double>::infinity());
}

TEST_CASE("early stopping: the best epoch's weights come back from memory, or from the best checkpoint after a resume") {
  Model model = one_conv();
  const Model best_epoch_weights = one_conv();  // the weights the model has at epoch 1
  const auto scribble = [&](double v) {
    for (const Weight& w : model.weights()) {
      Tensor value = w.variable.value();  // shares the weight's storage
      value.fill(v);
    }
  };
  EarlyStopping es(1, 0.0, false, /*restore_best_weights=*/true);
  EarlyStoppingState s = es.initial_state();
  CHECK_FALSE(es.on_epoch_end(s, 0.5, 1, model));
  scribble(0.25);  // epoch 2 trains on
  CHECK(es.on_epoch_end(s, 0.7, 2, model));
  CHECK(es.restore_best_weights(model, s, {}, 0) == "; restored the weights of epoch 1");
  CHECK(same_weights(model, best_epoch_weights));

  // A resumed run has no copy in memory: the best checkpoint serves when it holds the same epoch.
  const TempDir dir;
  Checkpoint c;
  c.tensors = best_epoch_weights.weight_tensors();
  c.model_config = best_epoch_weights.config();
  c.state = {{"format", "tapegrad.train"}};
  save_checkpoint(dir / "best.safetensors", c);
  const EarlyStopping resumed(1, 0.0, false, true);
  scribble(0.5);
  CHECK(resumed.restore_best_weights(model, s, dir / "best.safetensors", 2).find("were not kept across the resume") !=
        std::string::npos);
  CHECK_FALSE(same_weights(model, best_epoch_weights));
  CHECK(resumed.restore_best_weights(model, s, dir / "best.safetensors", 1).find("from " +
                                                                                 (dir / "best.safetensors").string()) !=
        std::string::npos);
  CHECK(same_weights(model, best_epoch_weights));
  CHECK(EarlyStopping(1, 0.0, false, false).restore_best_weights(model, s, {}, 1).empty());
}

TEST_CASE("best metric: strictly better counts, the direction follows the monitor mode, JSON keeps infinities") {
  BestMetric loss("val_loss", MonitorMode::Auto);
  CHECK_FALSE(loss.maximize);
  CHECK(loss.best == std::numeric_limits<double>::infinity());
  CHECK(loss.update(0.5, 1));
  CHECK_FALSE(loss.update(0.5, 2));
  CHECK(loss.update(0.4, 3));
  CHECK(loss.best == 0.4);
  CHECK(loss.best_epoch == 3);
  CHECK(BestMetric("val_mean_iou", MonitorMode::Auto).maximize);
  CHECK(BestMetric("val_loss", MonitorMode::Max).maximize);
  CHECK_FALSE(BestMetric("val_dice_1", MonitorMode::Min).maximize);

  const BestMetric fresh("val_dice_1", MonitorMode::Auto);
  CHECK(fresh.to_json().at("best") == "-inf");
  const BestMetric back = BestMetric::from_json(nlohmann::json::parse(fresh.to_json().dump()));
  CHECK(back.best == -std::numeric_limits<double>::infinity());
  CHECK(back.name == "val_dice_1");
  CHECK(back.maximize);
}
