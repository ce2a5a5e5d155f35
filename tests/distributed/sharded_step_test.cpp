// Gradient parts without MPI: which parts a process takes, the loader's slices of a batch, the step's gradient
// against parts computed one by one and summed by hand, and a resumed run keeping its part count.
#include <doctest/doctest.h>

#include "data/loader.h"
#include "optim/optimizer.h"
#include "tests/train/train_test_util.h"
#include "train/fit.h"
#include "train/sharded_step.h"

namespace tg::train {
namespace {

using testing::range;
using testing::shapes;
using testing::TempDir;

TEST_CASE("ShardPlan gives each process a contiguous, equal share of the parts") {
  const ShardPlan a = ShardPlan::for_process(4, 0, 2), b = ShardPlan::for_process(4, 1, 2);
  CHECK(a.first == 0);
  CHECK(a.end == 2);
  CHECK(b.first == 2);
  CHECK(b.end == 4);
  CHECK(ShardPlan::for_process(3, 0, 1).end == 3);
  CHECK_THROWS_WITH_AS(ShardPlan::for_process(3, 0, 2), doctest::Contains("multiple of the 2 processes"),
                       std::invalid_argument);
  CHECK_THROWS_AS(ShardPlan::for_process(2, 2, 2), std::invalid_argument);
}

TEST_CASE("the loader's slices of a batch are its parts, augmented as in the whole batch") {
  const auto data = shapes(16, 11);
  data::LoaderOptions o;
  o.batch_size = 5;  // 11 samples: batches of 5, 5 and 1, so the last batch has an empty part
  o.seed = 3;
  o.workers = 0;
  o.augment = data::AugmentOptions{};
  o.augment->horizontal_flip = o.augment->rotate90 = true;
  data::DataLoader whole(data, range(0, 11), o);
  std::vector<std::unique_ptr<data::DataLoader>> parts;
  for (int p = 0; p < 2; ++p) {
    data::LoaderOptions po = o;
    po.slice_first = p;
    po.slice_end = p + 1;
    po.slice_parts = 2;
    parts.push_back(std::make_unique<data::DataLoader>(data, range(0, 11), po));
  }
  for (int step = 0; step < 3; ++step) {
    const data::Batch w = whole.next();
    CHECK(w.first == 0);
    CHECK(w.full_size == w.size());
    int64_t at = 0;
    for (int p = 0; p < 2; ++p) {
      const data::Batch b = parts[p]->next();
      CHECK(b.full_size == w.size());
      CHECK(b.first == p * w.size() / 2);
      CHECK(b.first == at);
      for (int64_t j = 0; j < b.size(); ++j) {
        CHECK(b.indices[j] == w.indices[at + j]);
        CHECK(testing::bit_equal(b.images.slice(j, j + 1), w.images.slice(at + j, at + j + 1)));
        CHECK(testing::bit_equal(b.labels.slice(j, j + 1), w.labels.slice(at + j, at + j + 1)));
      }
      at += b.size();
    }
    CHECK(at == w.size());
  }
  data::LoaderOptions bad = o;
  bad.slice_first = 2;
  bad.slice_end = 2;
  bad.slice_parts = 2;
  CHECK_THROWS_WITH_AS(data::DataLoader(data, range(0, 11), bad), doctest::Contains("batch slice"),
                       std::invalid_argument);
}

// Keeps the gradients it is handed instead of applying them.
class RecordingOptimizer : public Optimizer {
 public:
  explicit RecordingOptimizer(std::vector<Parameter> parameters) : Optimizer(std::move(parameters), {}) {}
  std::string name() const override { return "recording"; }
  std::vector<Tensor> grads;

 protected:
  void update(size_t, Tensor&, const Tensor& grad, double) override { grads.push_back(grad.clone()); }
  nlohmann::json options_json() const override { return nlohmann::json::object(); }
};

TEST_CASE("a step in 2 parts applies the sample-weighted mean of the parts' gradients, rounded once") {
  Model model = unet({16, 16, 1}, 2, 4, 2, /*dropout=*/0.0, /*batch_norm=*/false, 7);
  const auto data = shapes(16, 5);
  data::LoaderOptions o;
  o.batch_size = 5;  // parts of 2 and 3 samples
  o.workers = 0;
  const data::Batch batch = data::DataLoader(data, range(0, 5), o).next();
  const TrainingLoss loss("auto", model, 2, -1, {});

  // Each part on its own, summed by hand: (2 g0 + 3 g1) / 5 in float64.
  RecordingOptimizer by_hand(model.parameters());
  std::vector<std::vector<Tensor>> part_grads;
  std::vector<double> part_losses;
  for (auto [b, e] : {std::pair<int64_t, int64_t>{0, 2}, {2, 5}}) {
    by_hand.zero_grad();
    const Variable out = loss.outputs(model, Variable(batch.images.slice(b, e)));
    Variable value = loss(out, batch.labels.slice(b, e));
    part_losses.push_back(value.item());
    value.backward();
    part_grads.emplace_back();
    for (const Parameter& p : model.parameters()) part_grads.back().push_back(p.variable.grad().clone());
  }
  by_hand.zero_grad();

  RecordingOptimizer recorded(model.parameters());
  ShardedStep step(recorded, ShardPlan::for_process(2, 0, 1), nullptr);
  ConfusionMatrix confusion(2);
  const StepResult result = step(model, loss, recorded, batch, 1, 0, confusion);
  CHECK(result.loss == (2.0 * part_losses[0] + 3.0 * part_losses[1]) / 5.0);
  CHECK(confusion.total() == 5 * 16 * 16);
  REQUIRE(recorded.grads.size() == part_grads[0].size());
  for (size_t p = 0; p < recorded.grads.size(); ++p) {
    const float* g0 = part_grads[0][p].data<float>();
    const float* g1 = part_grads[1][p].data<float>();
    const float* got = recorded.grads[p].data<float>();
    int64_t differ = 0;
    for (int64_t i = 0; i < recorded.grads[p].numel(); ++i)
      differ += got[i] != static_cast<float>((2.0 * g0[i] + 3.0 * g1[i]) / 5.0);
    CHECK_MESSAGE(differ == 0, "weight " << p);
  }
}

TEST_CASE("gradient_shards is part of a run: a resume with another count is refused, naming it") {
  TempDir dir;
  const auto data = shapes(16, 8);
  FitOptions o;
  o.batch_size = 4;
  o.epochs = 1;
  o.workers = 0;
  o.console = false;
  o.progress = ProgressMode::Off;
  o.gradient_shards = 2;
  o.run_dir = dir / "run";
  Model model = testing::small_unet();
  fit(model, DataSource{data, {}}, nullptr, o);
  Model again = testing::small_unet();
  o.resume = true;
  o.epochs = 2;
  o.gradient_shards = 1;
  CHECK_THROWS_WITH_AS(fit(again, DataSource{data, {}}, nullptr, o),
                       doctest::Contains("gradient_shards (was 2, now 1)"), std::invalid_argument);
  o.gradient_shards = 3;
  CHECK_THROWS_AS(fit(again, DataSource{data, {}}, nullptr, o), std::invalid_argument);
  o.gradient_shards = 0;
  CHECK_THROWS_WITH_AS(fit(again, DataSource{data, {}}, nullptr, o), doctest::Contains("at least 1"),
                       std::invalid_argument);
}

}  // namespace
}  // namespace tg::train
