// One whole training step (forward in training mode, the fit loop's loss on the logits, backward, Adam), three
// times, on a small U-Net with batch normalization, against PyTorch (tests/reference/cases_train.py).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "layers/zoo.h"
#include "optim/optim.h"
#include "tests/layers/layers_test_util.h"
#include "train/loss.h"

using namespace tg;
using tg::testing::max_rel_diff;

namespace {

Tensor fixture_tensor(const nlohmann::json& j) { return tg::testing::fixture_tensor(j, DType::F64); }

const nlohmann::json& train_fixtures() {
  static const nlohmann::json fixtures = [] {
    const std::string path = std::string(TAPEGRAD_SOURCE_DIR) + "/tests/reference/fixtures/train.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path + " is missing; run /usr/bin/python3 tests/reference/make_fixtures.py train");
    return nlohmann::json::parse(in);
  }();
  return fixtures;
}

}  // namespace

TEST_CASE("train step: a U-Net's forward, loss, backward and Adam match PyTorch for 3 steps (float64)") {
  const nlohmann::json& c = train_fixtures().at("unet_adam_steps");
  Model model = unet({16, 16, 1}, 2, 2, 2, /*dropout=*/0.0, /*batch_norm=*/true);
  model.to(DType::F64);
  for (Weight& w : model.weights()) {
    REQUIRE_MESSAGE(c.at("initial").contains(w.name), "fixture has no " << w.name);
    w.variable.value().copy_from(fixture_tensor(c.at("initial").at(w.name)));
  }
  REQUIRE(model.weights().size() == c.at("initial").size());
  model.train();
  std::vector<Parameter> params;
  for (const Weight& w : model.trainable_weights()) params.push_back({w.name, w.variable});
  std::unique_ptr<Optimizer> adam = make_optimizer(c.at("optimizer"), std::move(params));
  const train::TrainingLoss loss("auto", model, 2, -1);
  REQUIRE(loss.from_logits());
  const Variable images(fixture_tensor(c.at("input")));
  const Tensor labels = fixture_tensor(c.at("labels"));

  for (size_t step = 0; step < c.at("steps").size(); ++step) {
    CAPTURE(step + 1);
    adam->zero_grad();
    Variable l = loss(loss.outputs(model, images), labels);
    CHECK(l.item() == doctest::Approx(c.at("losses")[step].get<double>()).epsilon(1e-12));
    l.backward();
    adam->step();
    for (const Weight& w : model.weights()) {
      INFO("weight " << w.name);
      CHECK(max_rel_diff(w.variable.value(), fixture_tensor(c.at("steps")[step].at(w.name))) < 1e-10);
    }
  }
}
