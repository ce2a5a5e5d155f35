// fit with the optimizer's moving average of the weights (use_ema, `--ema`): validation and checkpoints see the
// averages, training continues on the raw weights, and a resumed run still ends bit-identical.
#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/fit.h"
#include "train/run_config.h"
#include "tests/train/train_test_util.h"

using namespace tg;
using namespace tg::train;
using namespace tg::train::testing;
namespace fs = std::filesystem;

namespace {
constexpr long double kMomentum = 0.8L;

struct EmaRun {
  std::shared_ptr<data::SyntheticDataset> data = shapes(16, 48);
  DataSource train{data, range(0, 40)};
  DataSource validation{data, range(40, 48)};

  Model model() const { return small_unet(); }

  FitOptions options(const fs::path& run_dir, bool use_ema = true) const {
    FitOptions o = quiet_run_options(run_dir);
    if (use_ema) {
      o.optimizer["use_ema"] = true;
      o.optimizer["ema_momentum"] = static_cast<double>(kMomentum);
    }
    return o;
  }
};

using Values = std::map<std::string, std::vector<long double>>;  // weight name -> elements

Values trainable_values(const Model& model) {
  Values v;
  for (const Weight& w : model.trainable_weights()) {
    std::vector<long double>& x = v[w.name];
    for (int64_t i = 0; i < w.variable.value().numel(); ++i) x.push_back(w.variable.value().flat(i));
  }
  return v;
}

const Tensor& tensor_named(const Checkpoint& c, const std::string& name) {
  for (const NamedTensor& t : c.tensors)
    if (t.name == name) return t.tensor;
  FAIL("no tensor " << name << " in " << c.path);
  return c.tensors.front().tensor;
}

// The largest difference between the checkpoint's tensors and `expected` (by weight name, with `suffix`).
double max_difference(const Checkpoint& c, const Values& expected, const std::string& prefix = "",
                      const std::string& suffix = "") {
  double worst = 0;
  for (const auto& [name, values] : expected) {
    const Tensor& t = tensor_named(c, prefix + name + suffix);
    REQUIRE(static_cast<size_t>(t.numel()) == values.size());
    for (int64_t i = 0; i < t.numel(); ++i)
      worst = std::max(worst, static_cast<double>(std::fabs(t.flat(i) - values[i])));
  }
  return worst;
}
}  // namespace

TEST_CASE("fit ema: checkpoints and validation hold the averages, and a run killed and resumed ends bit-identical") {
  const TempDir tmp;
  EmaRun s;
  const fs::path straight_dir = tmp / "straight";
  Model straight = s.model();
  FitOptions so = s.options(straight_dir);
  // The averages computed here from the raw weights each step leaves (Keras's rule: the first step takes the
  // weights as they are), in long double, and both kept at every epoch's end.
  Values average, raw;
  std::vector<Values> epoch_average, epoch_raw;
  so.on_step_end = [&](const StepEnd& e) {
    raw = trainable_values(straight);
    for (auto& [name, w] : raw) {
      std::vector<long double>& a = average[name];
      if (e.global_step == 1) a = w;
      for (size_t i = 0; i < w.size(); ++i) a[i] = kMomentum * a[i] + (1 - kMomentum) * w[i];
    }
    if (e.global_step % 5 == 0) {
      epoch_average.push_back(average);
      epoch_raw.push_back(raw);
    }
  };
  const FitResult full = fit(straight, s.train, &s.validation, so);
  REQUIRE(full.global_step == 15);
  REQUIRE(epoch_average.size() == 3);
  REQUIRE(full.best_epoch >= 1);

  // best.safetensors holds the best epoch's averages, not its raw weights, and evaluates to the logged metrics.
  const Checkpoint best = load_checkpoint(full.best_checkpoint);
  CHECK(max_difference(best, epoch_average[full.best_epoch - 1]) < 1e-5);
  CHECK(max_difference(best, epoch_raw[full.best_epoch - 1]) > 1e-3);
  Model best_model = load_model(full.best_checkpoint);
  EvaluateOptions eo;
  eo.batch_size = 8;
  CHECK(evaluate(best_model, s.validation, eo, "val_").at("val_loss") ==
        full.history[full.best_epoch - 1].metrics.at("val_loss"));

  // last.safetensors: the averages as the model, the raw weights in the optimizer state, bit for bit.
  const Checkpoint last = load_checkpoint(full.last_checkpoint);
  CHECK(max_difference(last, average) < 1e-5);
  CHECK(max_difference(last, raw, "optimizer/", "/training_weight") == 0.0);
  CHECK(max_difference(last, average, "optimizer/", "/average") < 1e-5);
  // The model fit returns holds the averages: the same bits as the last checkpoint's model.
  for (const Weight& w : straight.weights()) {
    INFO("weight " << w.name);
    CHECK(bit_equal(w.variable.value(), tensor_named(last, w.name)));
  }
  CHECK(read_text(straight_dir / "log.txt").find("adamw (weights averaged, EMA momentum 0.8)") != std::string::npos);

  // Killed after step 8 (no chance to write anything), resumed from the periodic checkpoint of step 6.
  const fs::path dir = tmp / "killed";
  {
    Model first = s.model();
    FitOptions o = s.options(dir);
    o.checkpoint_every = 3;
    o.on_step_end = [](const StepEnd& e) {
      if (e.global_step == 8) throw std::runtime_error("power cut");
    };
    CHECK_THROWS_WITH(fit(first, s.train, &s.validation, o), "power cut");
  }
  REQUIRE(load_checkpoint(RunDir(dir).last_checkpoint()).state.at("global_step") == 6);
  Model resumed = Model::from_config(read_run_config(dir).at("model"));
  FitOptions o = s.options(dir);
  o.resume = true;
  o.checkpoint_every = 3;
  const FitResult r = fit(resumed, s.train, &s.validation, o);
  CHECK(same_weights(straight, resumed));
  REQUIRE(r.history.size() == full.history.size());
  for (size_t e = 0; e < r.history.size(); ++e) CHECK(r.history[e].metrics == full.history[e].metrics);
  const Checkpoint resumed_last = load_checkpoint(r.last_checkpoint);
  REQUIRE(resumed_last.tensors.size() == last.tensors.size());
  for (size_t i = 0; i < last.tensors.size(); ++i) {
    INFO("tensor " << last.tensors[i].name);
    CHECK(resumed_last.tensors[i].name == last.tensors[i].name);
    CHECK(bit_equal(resumed_last.tensors[i].tensor, last.tensors[i].tensor));
  }
}

TEST_CASE("fit ema: a run begun without the average cannot be resumed with it, nor the reverse") {
  const TempDir tmp;
  EmaRun s;
  for (const bool begun_with_ema : {false, true}) {
    CAPTURE(begun_with_ema);
    const fs::path dir = tmp / (begun_with_ema ? "with" : "without");
    FitOptions o = s.options(dir, begun_with_ema);
    o.epochs = 1;
    o.steps_per_epoch = 2;
    Model first = s.model();
    fit(first, s.train, &s.validation, o);
    FitOptions other = s.options(dir, !begun_with_ema);
    other.epochs = 2;
    other.steps_per_epoch = 2;
    other.resume = true;
    Model resumed = Model::from_config(read_run_config(dir).at("model"));
    CHECK_THROWS_WITH_AS(fit(resumed, s.train, &s.validation, other),
                         doctest::Contains("with other settings: optimizer (was"), std::invalid_argument);
  }
}
