// LossOptions::pixel_weights on the crossentropies: each pixel's loss times its weight, the mean over the counted
// (non-void) pixels, checked against the unweighted loss of every pixel on its own, and by finite differences.
#include <cmath>

#include "tests/autograd/norm_fixtures.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

namespace {

constexpr int64_t kPixels = 2 * 3 * 2, kClasses = 3;

Tensor pixel(const Tensor& t, int64_t i) {  // pixel i of a [2, 3, 2, ...] tensor as [1, 1, 1, ...]
  Tensor flat = t.reshape({kPixels, t.numel() / kPixels});
  Shape s{1, 1, 1};
  if (t.rank() == 4) s.push_back(t.dim(3));
  return flat.slice(i, i + 1).reshape(s).clone();
}

// The weighted mean by its definition: every pixel's own loss, weighted, over the pixels that are not void.
double by_definition(const std::function<double(int64_t)>& loss_of_pixel, const Tensor& weights,
                     const std::function<bool(int64_t)>& is_void) {
  double sum = 0.0;
  int64_t counted = 0;
  for (int64_t i = 0; i < kPixels; ++i) {
    if (is_void(i)) continue;
    sum += weights.flat(i) * loss_of_pixel(i);
    ++counted;
  }
  return sum / static_cast<double>(counted);
}

}  // namespace

TEST_CASE("pixel weights: each crossentropy is the weighted mean of its pixels' own losses") {
  Rng rng(4);
  Tensor labels({2, 3, 2}, DType::F64), weights({2, 3, 2}, DType::F64), onehot({2, 3, 2, kClasses}, DType::F64);
  for (int64_t i = 0; i < kPixels; ++i) {
    const int64_t k = static_cast<int64_t>(rng.uniform_int(kClasses));
    labels.set_flat(i, static_cast<double>(k));
    onehot.set_flat(i * kClasses + k, 1.0);
    weights.set_flat(i, 0.25 + 4.0 * rng.uniform());
  }
  labels.set_flat(5, 255);  // void
  for (int64_t k = 0; k < kClasses; ++k) onehot.set_flat(5 * kClasses + k, 0.0);
  Tensor binary = random_tensor({2, 3, 2, 1}, 8, 0.0, 1.0);
  binary.set_flat(5, 255);
  const auto void_pixel = [](int64_t i) { return i == 5; };

  for (bool logits : {false, true}) {
    CAPTURE(logits);
    const Tensor x = logits ? random_tensor({2, 3, 2, kClasses}, 5, -3, 3) : random_tensor({2, 3, 2, kClasses}, 6, 0.05, 1);
    const Tensor x1 = logits ? random_tensor({2, 3, 2, 1}, 7, -3, 3) : random_tensor({2, 3, 2, 1}, 9, 0.05, 0.95);
    LossOptions plain, weighted;
    plain.from_logits = weighted.from_logits = logits;
    plain.ignore_index = weighted.ignore_index = 255;
    plain.class_weights = {9.0, 9.0, 9.0};  // replaced by the pixel weights, so they must not show
    weighted.class_weights = plain.class_weights;
    weighted.pixel_weights = weights;
    plain.class_weights.clear();

    const double sparse = sparse_categorical_crossentropy(Variable(x), labels, weighted).item();
    CHECK(sparse == doctest::Approx(by_definition(
                        [&](int64_t i) {
                          return sparse_categorical_crossentropy(Variable(pixel(x, i)), pixel(labels, i), plain).item();
                        },
                        weights, void_pixel)).epsilon(1e-12));
    const double categorical = categorical_crossentropy(Variable(x), onehot, weighted).item();
    CHECK(categorical == doctest::Approx(by_definition(
                             [&](int64_t i) {
                               return categorical_crossentropy(Variable(pixel(x, i)), pixel(onehot, i), plain).item();
                             },
                             weights, void_pixel)).epsilon(1e-12));
    LossOptions bw = weighted, bp = plain;
    bw.class_weights = {9.0, 9.0};
    const double bce = binary_crossentropy(Variable(x1), binary, bw).item();
    CHECK(bce == doctest::Approx(by_definition(
                     [&](int64_t i) { return binary_crossentropy(Variable(pixel(x1, i)), pixel(binary, i), bp).item(); },
                     weights, void_pixel)).epsilon(1e-12));

    // And their gradients, by finite differences.
    GradcheckOptions g;
    g.eps = 1e-5;
    expect_gradcheck([&](const std::vector<Variable>& in) { return sparse_categorical_crossentropy(in[0], labels, weighted); },
                     {x}, g);
    expect_gradcheck([&](const std::vector<Variable>& in) { return categorical_crossentropy(in[0], onehot, weighted); },
                     {x}, g);
    expect_gradcheck([&](const std::vector<Variable>& in) { return binary_crossentropy(in[0], binary, bw); }, {x1}, g);
  }
}

TEST_CASE("pixel weights: a wrong shape, a negative weight and soft Dice are refused by name") {
  const Tensor x = random_tensor({2, 3, 2, kClasses}, 1, -1, 1);
  Tensor labels({2, 3, 2}, DType::F64);
  LossOptions o;
  o.from_logits = true;
  o.pixel_weights = Tensor::ones({2, 3, 3}, DType::F64);
  CHECK_THROWS_WITH_AS(sparse_categorical_crossentropy(Variable(x), labels, o),
                       doctest::Contains("pixel weights of shape [2, 3, 3]"), std::invalid_argument);
  o.pixel_weights = Tensor::ones({2, 3, 2}, DType::F64);
  o.pixel_weights.set_flat(4, -1.0);
  CHECK_THROWS_WITH_AS(sparse_categorical_crossentropy(Variable(x), labels, o), doctest::Contains("pixel weight -1"),
                       std::invalid_argument);
  o.pixel_weights = Tensor::ones({2, 3, 2}, DType::F64);
  CHECK_THROWS_WITH_AS(dice_loss(Variable(x), Tensor({2, 3, 2, kClasses}, DType::F64), o),
                       doctest::Contains("no pixel weights"), std::invalid_argument);
}
