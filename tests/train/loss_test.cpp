#include <doctest/doctest.h>

#include "autograd/ops.h"
#include "data/batch.h"
#include "layers/layers.h"
#include "train/loss.h"

using namespace tg;
using namespace tg::train;

namespace {
Model head(int channels, const std::string& activation) {
  const SymbolicTensor x = Input({4, 4, 2});
  return Model(x, Conv2D(channels, 1).activation(activation)(x), 3);
}
Tensor labels() { return Tensor::from({0, 1, 1, 0, 2, 2, 1, 0, 0, 1, 255, 2, 2, 1, 0, 0}, {1, 4, 4}); }
Tensor binary_labels() { return Tensor::from({0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 255, 1, 0, 1, 0, 0}, {1, 4, 4}); }
LossOptions void_255(bool from_logits) {
  LossOptions o;
  o.from_logits = from_logits;
  o.ignore_index = 255;
  return o;
}
Variable images() {
  Tensor t({1, 4, 4, 2});
  Rng(1).fill_uniform(t, 0, 1);
  return Variable(t);
}
}  // namespace

TEST_CASE("loss: auto picks Keras's loss from the output activation and runs it on the logits") {
  Model softmax = head(3, "softmax");
  TrainingLoss ce("auto", softmax, 3, 255);
  CHECK(ce.name() == "sparse_categorical_crossentropy");
  CHECK(ce.from_logits());
  const Variable logits = ce.outputs(softmax, images());
  // The same number as the op on the logits, and (up to rounding) as the op on the model's probabilities.
  const double fused = ce(logits, labels()).item();
  CHECK(fused == sparse_categorical_crossentropy(logits, labels(), void_255(true)).item());
  const double from_probs = sparse_categorical_crossentropy(softmax.forward(images()), labels(), void_255(false)).item();
  CHECK(fused == doctest::Approx(from_probs).epsilon(1e-5));

  Model sigmoid = head(1, "sigmoid");
  TrainingLoss bce("auto", sigmoid, 2, 255);
  CHECK(bce.name() == "binary_crossentropy");
  CHECK(bce.metric_classes() == 2);
  CHECK(bce.binary_threshold() == 0.0);
  const Variable z = bce.outputs(sigmoid, images());
  CHECK(z.shape() == Shape{1, 4, 4, 1});
  const double b = bce(z, binary_labels()).item();
  CHECK(b == binary_crossentropy(z, binary_labels().reshape({1, 4, 4, 1}), void_255(true)).item());
}

TEST_CASE("loss: crossentropy+dice is the sum of the two, dice uses one-hot targets with void rows empty") {
  Model softmax = head(3, "softmax");
  const Variable logits = softmax.forward_logits(images());
  TrainingLoss both("crossentropy+dice", softmax, 3, 255);
  CHECK(both.name() == "sparse_categorical_crossentropy+dice");
  const double ce = sparse_categorical_crossentropy(logits, labels(), void_255(true)).item();
  const double dice =
      dice_loss(logits, data::one_hot(labels(), 3, 255), void_255(true)).item();
  CHECK(both(logits, labels()).item() == doctest::Approx(ce + dice).epsilon(1e-6));  // float32 sum
  TrainingLoss categorical("categorical_crossentropy", softmax, 3, 255);
  CHECK(categorical(logits, labels()).item() == doctest::Approx(ce).epsilon(1e-6));
}

TEST_CASE("loss: mismatches are named") {
  Model softmax = head(3, "softmax");
  CHECK_THROWS_WITH_AS(TrainingLoss("auto", softmax, 2, -1), doctest::Contains("the data has 2 classes"),
                       std::invalid_argument);
  Model linear = head(3, "linear");
  CHECK_THROWS_WITH_AS(TrainingLoss("auto", linear, 3, -1), doctest::Contains("name the loss"), std::invalid_argument);
  CHECK(TrainingLoss("sparse_categorical_crossentropy", linear, 3, -1).from_logits());
  Model sigmoid = head(1, "sigmoid");
  CHECK_THROWS_WITH_AS(TrainingLoss("sparse_categorical_crossentropy", sigmoid, 2, -1),
                       doctest::Contains("use binary_crossentropy"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(TrainingLoss("focal", softmax, 3, -1), doctest::Contains("unknown loss 'focal'"),
                       std::invalid_argument);
}

TEST_CASE("loss: mse is the squared error of the probabilities against one-hot targets") {
  Model softmax = head(3, "softmax");
  TrainingLoss l2("mse", softmax, 3, -1);
  const Tensor clean = Tensor::from({0, 1, 1, 0, 2, 2, 1, 0, 0, 1, 1, 2, 2, 1, 0, 0}, {1, 4, 4});
  const double value = l2(l2.outputs(softmax, images()), clean).item();
  // By hand from the model's probabilities: mean over the 16 pixels x 3 channels of (p - onehot)^2.
  const Tensor p = softmax.forward(images()).value();
  double sum = 0;
  for (int64_t i = 0; i < 16; ++i)
    for (int64_t k = 0; k < 3; ++k) {
      const double d = p.flat(i * 3 + k) - (clean.flat(i) == static_cast<double>(k) ? 1.0 : 0.0);
      sum += d * d;
    }
  CHECK(value == doctest::Approx(sum / 48).epsilon(1e-6));
  CHECK_THROWS_WITH_AS(TrainingLoss("mse", softmax, 3, 255), doctest::Contains("mse has no notion of unlabelled"),
                       std::invalid_argument);
}
