// Running models: whole-model PyTorch references, inference/training switches, logits, dtypes, timing hook.
#include <doctest/doctest.h>

#include "tests/layers/layers_test_util.h"

using namespace tg;
using namespace tg::testing;

namespace {
// Copies the fixture's weights (by name) into the model, which must be float64 already.
void load_fixture_weights(Model& m, const nlohmann::json& weights) {
  for (Weight& w : m.weights()) {
    REQUIRE_MESSAGE(weights.contains(w.name), "fixture has no " << w.name);
    w.variable.value().copy_from(fixture_tensor(weights.at(w.name), DType::F64));
  }
  CHECK(m.weights().size() == weights.size());
}
}  // namespace

TEST_CASE("tiny U-Net with batch norm at inference matches PyTorch") {
  const auto& c = layer_fixtures().at("unet_tiny");
  Model m = unet({16, 16, 1}, 2, 2, 2, 0.5, true);
  m.to(DType::F64);
  load_fixture_weights(m, c.at("weights"));
  Variable y = m(Variable(fixture_tensor(c.at("input"), DType::F64)));
  CHECK(max_rel_diff(y.value(), fixture_tensor(c.at("output"), DType::F64)) < 1e-12);
}

TEST_CASE("corrected seed autoencoder in training matches PyTorch, moving statistics included") {
  const auto& c = layer_fixtures().at("autoencoder_train");
  Model m = seed_autoencoder({16, 16, 3}, true, 0, 2);
  m.to(DType::F64);
  load_fixture_weights(m, c.at("weights"));
  m.train();
  Variable y = m(Variable(fixture_tensor(c.at("input"), DType::F64)));
  CHECK(max_rel_diff(y.value(), fixture_tensor(c.at("output"), DType::F64)) < 1e-12);
  for (const Weight& w : m.non_trainable_weights())
    CHECK_MESSAGE(max_rel_diff(w.variable.value(), fixture_tensor(c.at("updated").at(w.name), DType::F64)) < 1e-12,
                  w.name);
}

TEST_CASE("the full-width seed U-Net runs forward (32x32, float32)" * doctest::test_suite("slow")) {
  Model m = unet({32, 32, 1}, 2);
  NoGrad no_grad;
  Variable y = m(Variable(random_tensor({1, 32, 32, 1}, 1, 0, 1, DType::F32)));
  REQUIRE(y.shape() == Shape{1, 32, 32, 2});
  CHECK(y.dtype() == DType::F32);
  for (int64_t p = 0; p < 32 * 32; ++p) {
    const double a = y.value().flat(2 * p), b = y.value().flat(2 * p + 1);
    REQUIRE((a >= 0 && b >= 0 && std::fabs(a + b - 1) < 1e-5));
  }
}

TEST_CASE("forward_logits skips the output activation only") {
  Model m = unet({8, 8, 1}, 3, 2, 1);
  CHECK(m.output_activation() == "softmax");
  Variable x(random_tensor({2, 8, 8, 1}, 2, -1, 1, DType::F32));
  const Tensor probs = m(x).value();
  const Tensor logits = m.forward_logits(x).value();
  // softmax written out: exp(z - max) / sum
  for (int64_t p = 0; p < 2 * 8 * 8; ++p) {
    double z[3], mx = -1e300, sum = 0;
    for (int k = 0; k < 3; ++k) mx = std::max(mx, z[k] = logits.flat(3 * p + k));
    for (double& v : z) sum += (v = std::exp(v - mx));
    for (int k = 0; k < 3; ++k) REQUIRE(probs.flat(3 * p + k) == doctest::Approx(z[k] / sum).epsilon(1e-6));
  }
  Model binary = unet({8, 8, 1}, 1, 2, 1);
  CHECK(binary.output_activation() == "sigmoid");
  auto in = Input({4, 4, 2});
  Model linear(in, Conv2D(1, 1)(in));
  CHECK(linear.output_activation() == "linear");
  Model act(in, Activation("tanh")(Conv2D(1, 1)(in)));
  CHECK(act.output_activation() == "tanh");
  Variable v(random_tensor({1, 4, 4, 2}, 3, -1, 1, DType::F32));
  CHECK(act.forward_logits(v).value().to_vector() != act(v).value().to_vector());
}

TEST_CASE("train() and eval() switch Dropout and BatchNormalization") {
  auto in = Input({4, 4, 2});
  Model m(in, Dropout(0.5)(BatchNormalization()(in)));
  CHECK_FALSE(m.training());  // inference until train()
  const Tensor x = random_tensor({3, 4, 4, 2}, 4, -2, 3, DType::F32);
  const Weight mean = m.non_trainable_weights()[0];

  // Inference: BN with moving statistics (0 and 1): x / sqrt(1 + 1e-3); no dropout; no statistics update.
  const Tensor y_eval = m(Variable(x)).value();
  for (int64_t i = 0; i < x.numel(); ++i) REQUIRE(y_eval.flat(i) == doctest::Approx(x.flat(i) / std::sqrt(1.001)));
  CHECK(mean.variable.value().to_vector() == std::vector<double>{0.0, 0.0});

  m.train();
  m.rng().set_state({42, 0});
  const Tensor y1 = m(Variable(x)).value();
  int zeros = 0;
  for (int64_t i = 0; i < y1.numel(); ++i) zeros += y1.flat(i) == 0.0;
  CHECK(zeros > 10);
  CHECK(zeros < 86);
  CHECK(mean.variable.value().flat(0) != 0.0);  // moving mean moved toward the batch mean
  // The same generator state replays the same mask; the next state draws another.
  m.rng().set_state({42, 0});
  const Tensor y2 = m(Variable(x)).value();
  std::vector<bool> mask1, mask2;
  for (int64_t i = 0; i < y1.numel(); ++i) mask1.push_back(y1.flat(i) == 0), mask2.push_back(y2.flat(i) == 0);
  CHECK(mask1 == mask2);
  const Tensor y3 = m(Variable(x)).value();
  std::vector<bool> mask3;
  for (int64_t i = 0; i < y3.numel(); ++i) mask3.push_back(y3.flat(i) == 0);
  CHECK(mask1 != mask3);
}

TEST_CASE("float64 and float32 runs agree, inputs are checked") {
  Model m = seed_autoencoder({8, 8, 3}, true, 3, 2);
  const Tensor x = random_tensor({2, 8, 8, 3}, 5, -1, 1, DType::F32);
  const Tensor y32 = m(Variable(x)).value();
  CHECK_THROWS_WITH_AS(m(Variable(x.to(DType::F64))), doctest::Contains("model.to(DType::F64)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(m(Variable(Tensor({2, 8, 9, 3}))),
                       "Model 'seed_autoencoder': input 'input_1' expects shape (None, 8, 8, 3), got [2, 8, 9, 3]",
                       std::invalid_argument);
  m.to(DType::F64);
  CHECK(m.dtype() == DType::F64);
  const Tensor y64 = m(Variable(x.to(DType::F64))).value();
  CHECK(max_rel_diff(y32, y64) < 1e-4);
}

TEST_CASE("multiple outputs, and the per-layer timing hook") {
  reset_layer_names();  // names as in a fresh session, whatever ran before
  auto in = Input({6, 6, 1});
  auto a = Conv2D(2, 3).padding("same")(in);
  auto b = MaxPooling2D(2)(a);
  Model m({in}, {a, b});
  std::vector<std::string> timed;
  std::vector<Shape> outputs;
  m.set_layer_hook([&](const Layer& layer, const std::vector<Variable>& inputs, const Variable& output, double seconds) {
    CHECK(seconds >= 0.0);
    CHECK(inputs.size() == 1);
    timed.push_back(layer.name());
    outputs.push_back(output.shape());
  });
  const auto out = m.forward(std::vector<Variable>{Variable(random_tensor({1, 6, 6, 1}, 6, -1, 1, DType::F32))});
  REQUIRE(out.size() == 2);
  CHECK(out[0].shape() == Shape{1, 6, 6, 2});
  CHECK(out[1].shape() == Shape{1, 3, 3, 2});
  CHECK(timed == std::vector<std::string>{"conv2d", "max_pooling2d"});
  CHECK(outputs == std::vector<Shape>{{1, 6, 6, 2}, {1, 3, 3, 2}});
  CHECK_THROWS_WITH_AS(m.forward_logits(Variable(Tensor({1, 6, 6, 1}))), doctest::Contains("one input and one output"),
                       std::invalid_argument);
  CHECK(m.output_shapes() == std::vector<Shape>{{6, 6, 2}, {3, 3, 2}});
}

TEST_CASE("model construction checks inputs and outputs") {
  auto in = Input({4, 4, 1});
  auto other = Input({4, 4, 1});
  auto y = add({Conv2D(1, 1)(in), other});
  CHECK_THROWS_WITH_AS(Model(in, y), doctest::Contains("which is not among the model's inputs"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(Model(y, y), doctest::Contains("must come from Input()"), std::invalid_argument);
  auto unused = Input({2, 2, 1});
  CHECK_THROWS_WITH_AS(Model({in, other, unused}, {y}), doctest::Contains("does not lead to any of the outputs"),
                       std::invalid_argument);
  Model two({in, other}, {y});
  CHECK(two.input_shapes().size() == 2);
}
