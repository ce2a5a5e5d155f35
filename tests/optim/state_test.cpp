#include <cstring>

#include "tests/optim/optim_test_util.h"
#include "tests/temp_dir.h"

using namespace tg;
using namespace tg::testing;

namespace {
// Trains `total` steps straight, and separately `first` steps, then moves the state (through a safetensors
// file, as a checkpoint would) into a freshly built optimizer over a copy of the weights and trains the rest.
void check_resume(const nlohmann::json& config, int first, int total) {
  INFO("optimizer " << config.dump());
  const nlohmann::json& c = optim_fixtures().at("keras_adam_defaults");
  Quadratic straight(c, DType::F32);
  auto opt_a = make_optimizer(config, straight.params);
  straight.train(*opt_a, total);

  Quadratic part(c, DType::F32);
  auto opt_b = make_optimizer(config, part.params);
  part.train(*opt_b, first);
  const OptimizerState saved = opt_b->state();
  std::vector<NamedTensor> tensors = saved.tensors;
  for (const Parameter& p : part.params) tensors.push_back({p.name, p.variable.value()});
  const TempDir tmp;
  const auto path = tmp / "optimizer.safetensors";
  save_safetensors(path, tensors, {{"optimizer", saved.scalars.dump()}});
  SafetensorsFile file = load_safetensors(path);

  Quadratic resumed(c, DType::F32);
  for (Parameter& p : resumed.params) p.variable.value().copy_from(file.at(p.name));
  auto opt_c = make_optimizer(nlohmann::json::parse(file.metadata.at("optimizer")).at("config"), resumed.params);
  OptimizerState loaded{file.tensors, nlohmann::json::parse(file.metadata.at("optimizer"))};
  opt_c->load_state(loaded);
  CHECK(opt_c->iterations() == first);
  resumed.train(*opt_c, total - first);

  for (size_t i = 0; i < straight.params.size(); ++i)
    CHECK(bit_equal(straight.params[i].variable.value(), resumed.params[i].variable.value()));
  const OptimizerState sa = opt_a->state(), sc = opt_c->state();
  REQUIRE(sa.tensors.size() == sc.tensors.size());
  for (size_t i = 0; i < sa.tensors.size(); ++i) {
    CHECK(sa.tensors[i].name == sc.tensors[i].name);
    CHECK(bit_equal(sa.tensors[i].tensor, sc.tensors[i].tensor));
  }
  CHECK(sa.scalars == sc.scalars);
}
}  // namespace

TEST_CASE("optim: state names every slot of every parameter") {
  Variable k(Tensor({2, 3}), true), b(Tensor({3}), true);
  AdamOptions amsgrad;
  amsgrad.amsgrad = true;
  Adam adam({{"dense/kernel", k}, {"dense/bias", b}}, amsgrad);
  const OptimizerState s = adam.state();
  std::vector<std::string> names;
  for (const NamedTensor& t : s.tensors) names.push_back(t.name);
  CHECK(names == std::vector<std::string>{"optimizer/dense/kernel/m", "optimizer/dense/kernel/v",
                                          "optimizer/dense/kernel/vhat", "optimizer/dense/bias/m",
                                          "optimizer/dense/bias/v", "optimizer/dense/bias/vhat"});
  CHECK(s.scalars.at("iterations") == 0);
  CHECK(s.scalars.at("optimizer") == "adam");
  SGDOptions momentum;
  momentum.momentum = 0.9;
  SGD sgd({{"dense/kernel", k}}, momentum);
  CHECK(sgd.state().tensors.at(0).name == "optimizer/dense/kernel/momentum");
  CHECK(SGD({{"dense/kernel", k}}).state().tensors.empty());
}

TEST_CASE("optim: save state, rebuild, load, continue == training straight through (bit for bit)") {
  check_resume({{"name", "adam"}}, 2, 6);
  check_resume({{"name", "adam"}, {"amsgrad", true}, {"global_clipnorm", 0.5}}, 3, 6);
  check_resume({{"name", "adamw"}, {"learning_rate", 0.01},
                {"schedule", {{"name", "cosine"}, {"decay_steps", 4}, {"warmup_steps", 2}, {"warmup_target", 0.05}}}},
               3, 7);
  check_resume({{"name", "sgd"}, {"momentum", 0.9}, {"nesterov", true},
                {"schedule", {{"name", "step_decay"}, {"decay_steps", 2}, {"decay_rate", 0.5}}}},
               1, 5);
  // The weights' moving average is state too: with and without overwriting the weights in between.
  check_resume({{"name", "adam"}, {"use_ema", true}, {"ema_momentum", 0.9}}, 1, 5);
  check_resume({{"name", "sgd"}, {"momentum", 0.9}, {"use_ema", true}, {"ema_momentum", 0.5},
                {"ema_overwrite_frequency", 2}},
               3, 7);
}

TEST_CASE("optim: load_state refuses another optimizer's or another model's state, and changes nothing then") {
  Variable k(Tensor::from({1.0, 2.0}, {2}), true);
  Adam adam({{"dense/kernel", k}});
  k.node()->accumulate_grad(Tensor::from({1.0, 1.0}, {2}));
  adam.step();
  const OptimizerState good = adam.state();

  SGDOptions momentum;
  momentum.momentum = 0.9;
  SGD sgd({{"dense/kernel", k}}, momentum);
  CHECK_THROWS_WITH_AS(sgd.load_state(good), doctest::Contains("written by 'adam'"), std::runtime_error);

  Variable other(Tensor({2}), true);
  Adam renamed({{"conv2d/kernel", other}});
  CHECK_THROWS_WITH_AS(renamed.load_state(good), doctest::Contains("no tensor 'optimizer/conv2d/kernel/m'"),
                       std::runtime_error);

  Variable bigger(Tensor({3}), true);
  Adam reshaped({{"dense/kernel", bigger}});
  CHECK_THROWS_WITH_AS(reshaped.load_state(good), doctest::Contains("has shape [2] but the weight is [3]"),
                       std::runtime_error);
  CHECK(reshaped.iterations() == 0);

  OptimizerState broken = good;
  broken.scalars.erase("iterations");
  Adam fresh({{"dense/kernel", Variable(Tensor({2}), true)}});
  CHECK_THROWS_WITH_AS(fresh.load_state(broken), doctest::Contains("malformed"), std::runtime_error);
  CHECK(fresh.iterations() == 0);
}

TEST_CASE("optim: the learning-rate schedule's own state travels with the optimizer state") {
  Variable k(Tensor::from({1.0}, {1}), true);
  Adam adam({{"k", k}}, {{.learning_rate = 0.1}});
  adam.set_schedule(std::make_unique<ReduceLROnPlateau>(0.1, PlateauOptions{.monitor = "val_loss", .patience = 1}));
  adam.schedule().on_epoch_end({{"val_loss", 1.0}});
  adam.schedule().on_epoch_end({{"val_loss", 2.0}});  // no improvement for 1 epoch: reduce
  CHECK(adam.learning_rate() == doctest::Approx(0.01));
  Adam copy({{"k", Variable(Tensor({1}), true)}}, {{.learning_rate = 0.1}});
  copy.load_state(adam.state());
  CHECK(copy.learning_rate() == adam.learning_rate());
  CHECK(copy.schedule().state() == adam.schedule().state());
}
