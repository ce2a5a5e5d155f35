#include <doctest/doctest.h>

#include <cmath>

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
// Written out in double from the logits, independent of the loss ops; class weights multiply each pixel's loss
// and the mean divides by the number of labelled pixels (Keras's class_weight).
double hand_crossentropy(const Tensor& logits, const Tensor& labels, std::vector<double> weights = {}) {
  const int64_t c = logits.dim(3);
  double sum = 0;
  int64_t n = 0;
  for (int64_t p = 0; p < labels.numel(); ++p) {
    const auto label = static_cast<int64_t>(labels.flat(p));
    if (label == 255) continue;
    double mx = -1e300, se = 0;
    for (int64_t k = 0; k < c; ++k) mx = std::max(mx, logits.flat(p * c + k));
    for (int64_t k = 0; k < c; ++k) se += std::exp(logits.flat(p * c + k) - mx);
    const double w = weights.empty() ? 1.0 : weights[static_cast<size_t>(label)];
    sum += w * (mx + std::log(se) - logits.flat(p * c + label));
    ++n;
  }
  return sum / static_cast<double>(n);
}
double hand_binary_crossentropy(const Tensor& logits, const Tensor& labels) {
  double sum = 0;
  int64_t n = 0;
  for (int64_t p = 0; p < labels.numel(); ++p) {
    if (labels.flat(p) == 255) continue;
    const double z = logits.flat(p), y = labels.flat(p);
    sum += std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::fabs(z)));
    ++n;
  }
  return sum / static_cast<double>(n);
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
  // By hand from the logits: the mean over labelled pixels of logsumexp(z) - z[label]; and (up to rounding) the
  // op on the model's probabilities.
  const double fused = ce(logits, labels()).item();
  CHECK(fused == doctest::Approx(hand_crossentropy(logits.value(), labels())).epsilon(1e-6));
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
  CHECK(b == doctest::Approx(hand_binary_crossentropy(z.value(), binary_labels())).epsilon(1e-6));
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

TEST_CASE("loss: class weights multiply each pixel's loss by its true class's weight, the mean stays per pixel") {
  Model softmax = head(3, "softmax");
  const std::vector<double> w = {0.5, 2.0, 3.0};
  TrainingLoss weighted("auto", softmax, 3, 255, w);
  const Variable logits = weighted.outputs(softmax, images());
  CHECK(weighted(logits, labels()).item() ==
        doctest::Approx(hand_crossentropy(logits.value(), labels(), w)).epsilon(1e-6));
  CHECK(weighted(logits, labels()).item() !=
        doctest::Approx(hand_crossentropy(logits.value(), labels())).epsilon(1e-3));
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

TEST_CASE("loss: probabilities() applies the skipped activation, outputs_from_probabilities() maps them back") {
  Model softmax = head(3, "softmax");
  TrainingLoss ce("auto", softmax, 3, 255);
  const Tensor logits = ce.outputs(softmax, images()).value();
  const Tensor p = ce.probabilities(logits);
  const Tensor model_p = softmax.forward(images()).value();
  for (int64_t i = 0; i < p.numel(); ++i) CHECK(p.flat(i) == doctest::Approx(model_p.flat(i)).epsilon(1e-6));
  // Log-probabilities are logits of the same softmax: the loss on them is the loss on the model's logits.
  const Tensor back = ce.outputs_from_probabilities(p);
  CHECK(ce(Variable(back), labels()).item() == doctest::Approx(ce(Variable(logits), labels()).item()).epsilon(1e-5));

  Model sigmoid = head(1, "sigmoid");
  TrainingLoss bce("auto", sigmoid, 2, 255);
  const Tensor z = bce.outputs(sigmoid, images()).value();
  const Tensor q = bce.probabilities(z);
  const Tensor z_back = bce.outputs_from_probabilities(q);
  for (int64_t i = 0; i < z.numel(); ++i) {
    CHECK(q.flat(i) == doctest::Approx(1.0 / (1.0 + std::exp(-z.flat(i)))).epsilon(1e-6));
    CHECK(z_back.flat(i) == doctest::Approx(z.flat(i)).epsilon(1e-4));
  }
  // Certain pixels give finite logits.
  const Tensor certain = bce.outputs_from_probabilities(Tensor::from({0.0, 1.0}, {1, 1, 2, 1}));
  CHECK(std::isfinite(certain.flat(0)));
  CHECK(std::isfinite(certain.flat(1)));
  CHECK(certain.flat(0) < -80);
  CHECK(certain.flat(1) > 16);
}
