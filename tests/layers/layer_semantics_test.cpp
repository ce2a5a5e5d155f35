// Each layer passes its Keras arguments through to the op: small cases worked by hand.
#include <doctest/doctest.h>

#include "tests/layers/layers_test_util.h"

using namespace tg;
using namespace tg::testing;

namespace {
void set(Model& m, const std::string& weight, std::initializer_list<double> values) {
  for (Weight& w : m.weights())
    if (w.name == weight) {
      w.variable.value().copy_from(Tensor::from(values, w.variable.shape()));
      return;
    }
  FAIL("no weight " << weight);
}
}  // namespace

TEST_CASE("BatchNormalization: momentum, and tf.keras's or Keras 3's moving variance") {
  // One channel holding 1, 2, 3, 4: mean 2.5, biased variance 1.25, Bessel-corrected 5/3.
  // momentum 0.5: moving_mean = 0 * 0.5 + 2.5 * 0.5 = 1.25; moving_variance = 1 * 0.5 + var * 0.5.
  for (bool unbiased : {true, false}) {
    auto x = Input({2, 2, 1});
    Model m(x, BatchNormalization().momentum(0.5).unbiased_moving_variance(unbiased)(x));
    m.train();
    m(Variable(Tensor::from({1, 2, 3, 4}, {1, 2, 2, 1})));
    const auto stats = m.non_trainable_weights();
    CHECK(stats[0].variable.value().item() == doctest::Approx(1.25));
    CHECK(stats[1].variable.value().item() == doctest::Approx(unbiased ? 0.5 + 0.5 * 5.0 / 3.0 : 0.5 + 0.5 * 1.25));
    // Inference uses the moving statistics with epsilon 1e-3: (x - 1.25) / sqrt(moving_variance + 1e-3).
    m.eval();
    const double var = stats[1].variable.value().item();
    const Tensor y = m(Variable(Tensor::from({1, 2, 3, 4}, {1, 2, 2, 1}))).value();
    CHECK(y.flat(3) == doctest::Approx((4 - 1.25) / std::sqrt(var + 1e-3)));
  }
}

TEST_CASE("Conv2D 'same' with an even kernel pads after: the extra row and column go bottom/right") {
  reset_layer_names();  // names as in a fresh session, whatever ran before
  // A 2x2 kernel of ones over a 2x2 input padded (0, 1, 0, 1): out[0][0] = x00 + x01 + x10 + x11,
  // out[0][1] = x01 + x11, out[1][0] = x10 + x11, out[1][1] = x11; plus the bias 0.5.
  auto x = Input({2, 2, 1});
  Model m(x, Conv2D(1, 2).padding("same")(x));
  set(m, "conv2d/kernel", {1, 1, 1, 1});
  set(m, "conv2d/bias", {0.5});
  const Tensor y = m(Variable(Tensor::from({1, 2, 3, 4}, {1, 2, 2, 1}))).value();
  CHECK(y.to_vector() == std::vector<double>{10.5, 6.5, 7.5, 4.5});
}

TEST_CASE("Conv2DTranspose, pooling, upsampling, joins and activations, by hand") {
  reset_layer_names();  // names as in a fresh session, whatever ran before
  auto x = Input({2, 2, 1});
  auto t = Conv2DTranspose(1, 2).strides(2).use_bias(false)(x);  // each input pixel stamps the 2x2 kernel
  auto up = UpSampling2D(2)(x);                                    // nearest: each pixel repeated 2x2
  auto joined = concatenate({t, up});                              // [4, 4, 2]
  auto pooled = MaxPooling2D(2)(joined);                           // back to [2, 2, 2]
  auto averaged = AveragePooling2D(2)(add({t, up}));
  Model m({x}, {pooled, Activation("sigmoid")(averaged)});
  set(m, "conv2d_transpose/kernel", {1, 2, 3, 4});
  const auto out = m.forward(std::vector<Variable>{Variable(Tensor::from({1, -1, 2, 0.5}, {1, 2, 2, 1}))});
  // Transposed conv block for pixel v: [[v, 2v], [3v, 4v]]: max is 4v for v > 0, v for v < 0.
  // Channel 0 of the pooled output: max(4, -1, 8, 2); channel 1: the pixel itself.
  CHECK(out[0].value().to_vector() == std::vector<double>{4, 1, -1, -1, 8, 2, 2, 0.5});
  // Average of (block + v) over each 2x2: (v + 2v + 3v + 4v) / 4 + v = 3.5 v, then the sigmoid.
  const std::vector<double> v{1, -1, 2, 0.5};
  for (int i = 0; i < 4; ++i) CHECK(out[1].value().flat(i) == doctest::Approx(1 / (1 + std::exp(-3.5 * v[i]))));
}

TEST_CASE("Dropout keeps 1 - rate of the units, scaled by 1 / (1 - rate), only in training") {
  auto x = Input({100, 100, 1});
  Model m(x, Dropout(0.25)(x));
  const Tensor ones = Tensor::ones({1, 100, 100, 1});
  CHECK(m(Variable(ones)).value().to_vector() == ones.to_vector());
  m.train();
  const Tensor y = m(Variable(ones)).value();
  int kept = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    REQUIRE((y.flat(i) == 0.0 || y.flat(i) == doctest::Approx(4.0 / 3.0)));
    kept += y.flat(i) != 0.0;
  }
  CHECK(kept == doctest::Approx(7500).epsilon(0.03));  // binomial(10000, 0.75): sd 43
}

TEST_CASE("Model::set_batch_parts: Dropout draws each part's mask from its own generator, as the part alone would") {
  auto x = Input({4, 4, 2});
  Model m(x, Dropout(0.5)(x));
  m.train();
  const Tensor ones = Tensor::ones({3, 4, 4, 2});
  std::vector<Rng> alone;  // each part alone: samples [0, 1) and [1, 3), each with its own generator
  for (uint64_t part : {0, 1}) alone.push_back(Rng::derive(7, 11, part));
  m.rng() = alone[0];
  const Tensor first = m(Variable(ones.slice(0, 1))).value();
  m.rng() = alone[1];
  const Tensor second = m(Variable(ones.slice(1, 3))).value();

  std::vector<Rng> together = {Rng::derive(7, 11, 0), Rng::derive(7, 11, 1)};
  const BatchParts parts{2, 0, {0, 1, 3}, nullptr};
  m.set_batch_parts(&parts, together);
  const Tensor both = m(Variable(ones)).value();
  m.set_batch_parts(nullptr);
  CHECK(both.slice(0, 1).to_vector() == first.to_vector());
  CHECK(both.slice(1, 3).to_vector() == second.to_vector());
  CHECK(first.to_vector() != second.slice(0, 1).to_vector());  // the generators differ, so do the masks
}
