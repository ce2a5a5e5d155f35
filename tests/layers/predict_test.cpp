// Model::predict (Keras's model.predict: inference mode, no graph, batches over a large input, the model's mode
// restored) and tg::argmax.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "tests/layers/layers_test_util.h"

using namespace tg;
using namespace tg::testing;

namespace {
// Conv + BN + dropout + softmax: every layer whose behaviour depends on the mode.
Model mode_sensitive_model() {
  auto x = Input({6, 6, 2});
  auto y = BatchNormalization()(Conv2D(4, 3).padding("same").activation("relu")(x));
  y = Dropout(0.5)(y);
  return Model(x, Conv2D(3, 1).activation("softmax")(y), /*seed=*/7);
}

std::vector<std::vector<double>> non_trainable_values(const Model& m) {
  std::vector<std::vector<double>> out;
  for (const Weight& w : m.non_trainable_weights()) out.push_back(w.variable.value().to_vector());
  return out;
}
}  // namespace

TEST_CASE("predict: the inference-mode forward pass, whatever mode the model is in, which it keeps") {
  Model m = mode_sensitive_model();
  // Move the moving statistics off their initial values, so that using them is visible.
  m.train();
  m(Variable(random_tensor({4, 6, 6, 2}, 1, -1, 2, DType::F32)));
  const auto statistics = non_trainable_values(m);
  const Tensor x = random_tensor({5, 6, 6, 2}, 2, -1, 1, DType::F32);

  Tensor expected;
  {
    m.eval();
    NoGrad no_grad;
    expected = m(Variable(x)).value();
  }
  m.train();
  const size_t nodes_before = recorded_nodes();
  const Tensor first = m.predict(x), second = m.predict(x);
  CHECK(recorded_nodes() == nodes_before);  // no graph recorded
  CHECK(m.training());                           // mode restored
  CHECK(non_trainable_values(m) == statistics);  // BN moving statistics untouched
  CHECK(first.shape() == Shape{5, 6, 6, 3});
  CHECK(first.to_vector() == expected.to_vector());
  CHECK(second.to_vector() == first.to_vector());

  m.eval();
  m.predict(x);
  CHECK_FALSE(m.training());
}

TEST_CASE("predict: batching over a large input gives each sample's own output") {
  Model m = mode_sensitive_model();
  const Tensor x = random_tensor({7, 6, 6, 2}, 3, -1, 1, DType::F32);
  const Tensor whole = m.predict(x, 32), in_threes = m.predict(x, 3);
  REQUIRE(in_threes.shape() == whole.shape());
  for (int64_t i = 0; i < 7; ++i) {
    const Tensor alone = m.predict(x.slice(i, i + 1), 1);
    CHECK(max_rel_diff(in_threes.slice(i, i + 1), alone) < 1e-6);
    CHECK(max_rel_diff(whole.slice(i, i + 1), alone) < 1e-6);
  }
}

TEST_CASE("predict: wrong inputs and batch sizes are errors naming the model and the shapes") {
  Model m = mode_sensitive_model();
  CHECK_THROWS_WITH_AS(m.predict(Tensor({2, 5, 6, 2})), doctest::Contains("expects inputs (None, 6, 6, 2), got [2, 5, 6, 2]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(m.predict(Tensor({2, 6, 6, 2}), 0), doctest::Contains("batch_size > 0"), std::invalid_argument);
  m.train();
  CHECK_THROWS(m.predict(Tensor({2, 6, 6, 2}, DType::F64)));  // the weights are float32
  CHECK(m.training());  // restored on the way out of an error too
}

TEST_CASE("argmax: indices along an axis, ties to the lower index, NaN wins, float32 ids") {
  // [2, 3] by hand.
  const Tensor x = Tensor::from({0.1, 0.7, 0.2, 5.0, -1.0, 5.0}, {2, 3});
  CHECK(argmax(x).shape() == Shape{2});
  CHECK(argmax(x).to_vector() == std::vector<double>{1, 0});     // the tie 5.0 / 5.0 goes to index 0
  CHECK(argmax(x, 0).to_vector() == std::vector<double>{1, 0, 1});
  CHECK(argmax(x, -2).to_vector() == argmax(x, 0).to_vector());
  CHECK(argmax(x).dtype() == DType::F32);

  // An inner axis of [2, 2, 2]: out[i, k] = argmax over j of x[i, j, k].
  const Tensor y = Tensor::from({1, 4, 3, 2, 0, 9, 8, 9}, {2, 2, 2}, DType::F64);
  CHECK(argmax(y, 1).to_vector() == std::vector<double>{1, 0, 1, 0});

  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(argmax(Tensor::from({1.0, nan, 3.0}, {3})).to_vector() == std::vector<double>{1});
  CHECK_THROWS_WITH_AS(argmax(x, 2), doctest::Contains("axis 2 is out of range"), std::invalid_argument);
}

TEST_CASE("parameters(): what optimizers take, the model's trainable weights themselves") {
  Model m = mode_sensitive_model();
  const std::vector<Parameter> params = m.parameters();
  const std::vector<Weight> trainable = m.trainable_weights();
  REQUIRE(params.size() == trainable.size());
  for (size_t i = 0; i < params.size(); ++i) {
    CHECK(params[i].name == trainable[i].name);
    CHECK(params[i].variable.node() == trainable[i].variable.node());  // the model's own Variables
    CHECK(params[i].trainable);
  }
  CHECK(m.weights().size() == params.size() + 2);  // plus BN's moving mean and variance
}
