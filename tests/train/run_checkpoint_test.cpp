#include <doctest/doctest.h>

#include "data/loader.h"
#include "optim/factory.h"
#include "tests/train/train_test_util.h"
#include "train/run_checkpoint.h"
#include "train/train_step.h"

using namespace tg;
using namespace tg::train;
using namespace tg::train::testing;

namespace {
FitOptions run_options() {
  FitOptions o;
  o.batch_size = 8;
  o.seed = 42;
  o.augment = data::AugmentOptions{};
  o.augment->horizontal_flip = true;
  o.optimizer = {{"name", "adamw"}, {"learning_rate", 3e-3}};
  return o;
}

// Everything a run holds while it trains, built the way fit builds it.
struct Run {
  std::shared_ptr<data::SyntheticDataset> data = shapes(16, 40);
  Model model = small_unet();
  FitOptions options = run_options();
  TrainingLoss loss{"auto", model, 2, -1};
  std::unique_ptr<Optimizer> optimizer;
  data::DataLoader loader{data, range(0, 40), options};
  FitState state;

  Run() {
    std::vector<Parameter> params;
    for (const Weight& w : model.trainable_weights()) params.push_back({w.name, w.variable});
    optimizer = make_optimizer(options.optimizer, std::move(params));
    state.monitor = BestMetric("loss", MonitorMode::Auto);
    model.train();
  }
  void steps(int n) {
    for (int i = 0; i < n; ++i) {
      const data::Batch batch = loader.next();
      const StepResult r = train_step(model, loss, *optimizer, batch, options.seed, state.global_step);
      state.add_batch(r.loss, batch.size(), r.outputs, batch.labels, loss.binary_threshold());
      ++state.step;
      ++state.global_step;
    }
  }
};
}  // namespace

TEST_CASE("run checkpoint: a run restored from its checkpoint continues bit-identical") {
  Run a;
  a.steps(3);
  const Checkpoint c = make_run_checkpoint(a.model, *a.optimizer, a.loader, a.state, a.options, 1);
  CHECK(c.state.at("fit") == a.options.to_json());
  CHECK(c.state.at("rng").at("dropout").at("stream") == kDropoutStream);

  Run b;
  for (const Weight& w : b.model.weights()) {  // nothing of this may survive the restore
    Tensor value = w.variable.value();
    value.fill(0.125);
  }
  const FitState restored = restore_run_checkpoint(c, b.model, *b.optimizer, b.loader, b.options, "/runs/a");
  CHECK(restored.to_json({}) == a.state.to_json({}));
  CHECK(b.loader.global_step() == 3);
  CHECK(b.optimizer->iterations() == 3);
  CHECK(same_weights(a.model, b.model));
  b.state = restored;

  a.steps(2);
  b.steps(2);
  CHECK(same_weights(a.model, b.model));
  const OptimizerState sa = a.optimizer->state(), sb = b.optimizer->state();
  REQUIRE(sa.tensors.size() == sb.tensors.size());
  for (size_t i = 0; i < sa.tensors.size(); ++i) CHECK(bit_equal(sa.tensors[i].tensor, sb.tensors[i].tensor));
}

TEST_CASE("run checkpoint: other settings or another model are refused, settings added later take their defaults") {
  Run a;
  a.steps(1);
  const Checkpoint c = make_run_checkpoint(a.model, *a.optimizer, a.loader, a.state, a.options, 1);

  Run b;
  FitOptions other = b.options;
  other.batch_size = 4;
  other.seed = 1;
  CHECK_THROWS_WITH_AS(restore_run_checkpoint(c, b.model, *b.optimizer, b.loader, other, "/runs/a"),
                       doctest::Contains("cannot resume /runs/a with other settings: batch_size (was 8, now 4), seed "
                                         "(was 42, now 1)"),
                       std::invalid_argument);
  other = b.options;
  other.epochs = 9;      // not part of the run's identity
  other.workers = 3;
  CHECK_NOTHROW(restore_run_checkpoint(c, b.model, *b.optimizer, b.loader, other, "/runs/a"));

  // A checkpoint written before validation_split and drop_last existed resumes as if they had their defaults.
  Checkpoint old = c;
  old.state["fit"].erase("validation_split");
  old.state["fit"].erase("drop_last");
  CHECK_NOTHROW(restore_run_checkpoint(old, b.model, *b.optimizer, b.loader, b.options, "/runs/a"));
  other = b.options;
  other.drop_last = true;
  CHECK_THROWS_WITH_AS(restore_run_checkpoint(old, b.model, *b.optimizer, b.loader, other, "/runs/a"),
                       doctest::Contains("drop_last (was false, now true)"), std::invalid_argument);
  // A checkpoint from before --sync-bn resumes without it; turning it on changes the numbers, so it is refused.
  old.state["fit"].erase("sync_batch_norm");
  CHECK_NOTHROW(restore_run_checkpoint(old, b.model, *b.optimizer, b.loader, b.options, "/runs/a"));
  other = b.options;
  other.sync_batch_norm = true;
  CHECK_THROWS_WITH_AS(restore_run_checkpoint(old, b.model, *b.optimizer, b.loader, other, "/runs/a"),
                       doctest::Contains("sync_batch_norm (was false, now true)"), std::invalid_argument);

  Model wider = unet({16, 16, 1}, 2, 8, 2, 0.3, true, 5);
  CHECK_THROWS_WITH_AS(restore_run_checkpoint(c, wider, *b.optimizer, b.loader, b.options, "/runs/a"),
                       doctest::Contains("the model differs"), std::invalid_argument);
}

TEST_CASE("model weights: copied out as named tensors and back in, checked before anything changes") {
  Model a = small_unet(1), b = small_unet(2);
  CHECK_FALSE(same_weights(a, b));
  std::vector<NamedTensor> tensors = a.weight_tensors();
  REQUIRE(tensors.size() == a.weights().size());
  CHECK(tensors[0].name == a.weights()[0].name);
  CHECK(tensors[0].tensor.data<float>() == a.weights()[0].variable.value().data<float>());  // views, not copies
  tensors.push_back({"optimizer/x/m", Tensor({1})});  // a checkpoint's optimizer state is left aside
  b.load_weights(tensors, "memory");
  CHECK(same_weights(a, b));

  Model c = small_unet(3);
  const Model c_before = small_unet(3);
  std::vector<NamedTensor> short_one = a.weight_tensors();
  short_one.back().tensor = Tensor({1});
  CHECK_THROWS_WITH_AS(c.load_weights(short_one, "snapshot.safetensors"),
                       doctest::Contains(("snapshot.safetensors: tensor '" + short_one.back().name + "' has shape [1]").c_str()),
                       std::runtime_error);
  std::vector<NamedTensor> extra = a.weight_tensors();
  extra.push_back({"dense/kernel", Tensor({2, 2})});
  CHECK_THROWS_WITH_AS(c.load_weights(extra, "memory"), doctest::Contains("holds tensor 'dense/kernel'"),
                       std::runtime_error);
  std::vector<NamedTensor> missing = a.weight_tensors();
  missing.erase(missing.begin());
  CHECK_THROWS_WITH_AS(c.load_weights(missing, "memory"), doctest::Contains(("has no tensor '" + a.weights()[0].name).c_str()),
                       std::runtime_error);
  CHECK(same_weights(c, c_before));  // every failure left the model as it was
}

TEST_CASE("run checkpoint: a training state with an impossible position or class count is refused before use") {
  Run a;
  a.steps(1);
  const nlohmann::json good = a.state.to_json({});
  CHECK_NOTHROW(FitState::from_json(good));
  nlohmann::json negative = good;
  negative["step"] = -5;
  CHECK_THROWS_WITH_AS(FitState::from_json(negative), doctest::Contains("impossible position"), std::runtime_error);
  // 46341 classes: its square overflows an int, and would be allocated before the counts were compared.
  nlohmann::json classes = good;
  classes["epoch_sums"]["confusion"]["num_classes"] = 46341;
  CHECK_THROWS_WITH_AS(FitState::from_json(classes), doctest::Contains("claims 46341 classes but holds 4 counts"),
                       std::runtime_error);
}
