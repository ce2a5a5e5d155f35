#include <doctest/doctest.h>

#include <limits>

#include "autograd/allocator.h"
#include "autograd/tape.h"
#include "data/loader.h"
#include "optim/factory.h"
#include "tests/train/train_test_util.h"
#include "train/train_step.h"

using namespace tg;
using namespace tg::train;
using namespace tg::train::testing;

namespace {
std::unique_ptr<Optimizer> adam_for(const Model& model) {
  std::vector<Parameter> params;
  for (const Weight& w : model.trainable_weights()) params.push_back({w.name, w.variable});
  return make_optimizer({{"name", "adam"}, {"learning_rate", 1e-2}}, std::move(params));
}

data::Batch first_batch(const std::shared_ptr<data::SyntheticDataset>& data) {
  data::LoaderOptions lo;
  lo.batch_size = 4;
  lo.shuffle = false;
  lo.workers = 0;
  data::DataLoader loader(data, range(0, 8), lo);
  return loader.next();
}
}  // namespace

TEST_CASE("train step: forward, loss, backward and the optimizer's update, as written out by hand") {
  const auto data = shapes(16, 8);
  const data::Batch batch = first_batch(data);
  Model stepped = small_unet(), by_hand = small_unet();
  stepped.train();
  by_hand.train();
  const TrainingLoss loss("auto", stepped, 2, -1);
  auto opt_stepped = adam_for(stepped), opt_by_hand = adam_for(by_hand);

  const StepResult r = train_step(stepped, loss, *opt_stepped, batch, /*seed=*/7, /*global_step=*/3);

  by_hand.rng() = Rng::derive(7, kDropoutStream, 3);  // the step's dropout masks
  const Variable outputs = loss.outputs(by_hand, Variable(batch.images));
  Variable value = loss(outputs, batch.labels);
  value.backward();
  opt_by_hand->step();

  CHECK(r.applied());
  CHECK(r.loss == value.item());
  CHECK(bit_equal(r.outputs, outputs.value()));
  CHECK(opt_stepped->iterations() == 1);
  CHECK(same_weights(stepped, by_hand));
  CHECK(recorded_nodes() == 0);
}

TEST_CASE("train step: the dropout masks are a function of (seed, global step)") {
  const auto data = shapes(16, 8);
  const data::Batch batch = first_batch(data);
  const auto run = [&](uint64_t seed, int64_t global_step) {
    Model m = small_unet();
    m.train();
    const TrainingLoss loss("auto", m, 2, -1);
    auto opt = adam_for(m);
    return train_step(m, loss, *opt, batch, seed, global_step).loss;
  };
  CHECK(run(7, 3) == run(7, 3));
  CHECK(run(7, 3) != run(7, 4));
  CHECK(run(7, 3) != run(8, 3));
}

TEST_CASE("train step: a non-finite loss changes nothing and the error names where and which samples") {
  const auto data = shapes(16, 8);
  data::Batch batch = first_batch(data);
  batch.images.set_flat(17, std::numeric_limits<double>::quiet_NaN());
  Model model = one_conv(), untouched = one_conv();
  model.train();
  const TrainingLoss loss("auto", model, 2, -1);
  auto opt = adam_for(model);

  const StepResult r = train_step(model, loss, *opt, batch, 1, 0);
  CHECK_FALSE(r.applied());
  CHECK(std::isnan(r.loss));
  CHECK(opt->iterations() == 0);
  CHECK(same_weights(model, untouched));
  CHECK(recorded_nodes() == 0);

  const NonFiniteLossError e = non_finite_loss_error(r.loss, batch, *data, {1, 2, 5, 7}, "/runs/a/last.safetensors");
  const std::string msg = e.what();
  CHECK(msg.find("the loss is nan at epoch 2, step 3/5 (global step 8)") != std::string::npos);
  CHECK(msg.find(data->name(0)) != std::string::npos);
  CHECK(msg.find(data->name(3)) != std::string::npos);
  CHECK(msg.find("/runs/a/last.safetensors is untouched") != std::string::npos);
  CHECK(e.global_step() == 7);
  CHECK(e.batch() == batch.indices);
  const std::string without = non_finite_loss_error(r.loss, batch, *data, {1, 2, 5, 7}, {}).what();
  CHECK(without.find("untouched") == std::string::npos);
}

TEST_CASE("train step: a steady-state step takes no tensor memory from the system and leaks none") {
  const auto data = shapes(16, 8);
  const data::Batch batch = first_batch(data);
  Model model = small_unet();
  model.train();
  const TrainingLoss loss("auto", model, 2, -1);
  auto opt = adam_for(model);
  // The first steps fill the cache (and Adam creates its slots); from then on every size recurs.
  for (int64_t step = 0; step < 2; ++step) train_step(model, loss, *opt, batch, 1, step);
  const TensorAllocatorStats before = tensor_allocator_stats();
  for (int64_t step = 2; step < 6; ++step) train_step(model, loss, *opt, batch, 1, step);
  const TensorAllocatorStats after = tensor_allocator_stats();
  CHECK(after.system_allocations == before.system_allocations);
  CHECK(after.cache_hits > before.cache_hits);
  CHECK(after.live_bytes == before.live_bytes);
  // What the cache keeps beside the live tensors stays small: the process holds about what the step needs.
  reset_tensor_allocator_peak();
  train_step(model, loss, *opt, batch, 1, 6);
  const TensorAllocatorStats last = tensor_allocator_stats();
  MESSAGE("peak held " << last.peak_bytes << " bytes, live high-water mark " << last.peak_live_bytes);
  CHECK(last.peak_bytes <= last.peak_live_bytes + last.peak_live_bytes / 10);
}
