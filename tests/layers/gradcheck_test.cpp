// Whole-model gradient checks in float64: the tape's gradients of a model's output with respect to its input AND
// every trainable weight, against central differences (tg::gradcheck). The model runs with the Variables that
// gradcheck hands its function bound as its weights (Model::bind_trainable_weights), in training mode (batch
// statistics in BatchNormalization) with the dropout generator reset before every run, so every evaluation uses
// the same mask.
//
// relu kinks and max-pool ties make central differences meaningless wherever a nudge moves a pre-activation
// across 0 or changes which element wins a pool window. The checks run at a generic point (random offsets on every
// weight, so no bias sits exactly at zero) with fixed seeds, so they are deterministic; with other seeds about one
// run in twelve nudges a first-layer kernel element across a kink somewhere (an error of ~1e-3 in that one
// element), which is a property of relu, not of the gradients.
#include <doctest/doctest.h>

#include "tests/layers/layers_test_util.h"

using namespace tg;
using namespace tg::testing;

namespace {
GradcheckResult check_model(Model& m, const Tensor& x, int64_t checks_per_input, double eps) {
  m.to(DType::F64);
  m.train();
  // Freshly initialised biases are exactly zero, so wherever relu and dropout zero a whole window the next relu
  // would sit exactly on its kink. Every trainable weight gets a random offset.
  std::vector<Tensor> inputs{x};
  uint64_t seed = 100;
  for (const Weight& w : m.trainable_weights()) {
    const Tensor offset = random_tensor(w.variable.shape(), seed++, -0.2, 0.2);
    Tensor value = w.variable.value().clone();
    for (int64_t i = 0; i < value.numel(); ++i) value.set_flat(i, value.flat(i) + offset.flat(i));
    inputs.push_back(value);
  }
  GradcheckOptions o;
  o.max_checks_per_input = checks_per_input;
  // The float64 forward pass of a whole model rounds its loss (a weighted sum of ~1000 outputs) by up to ~3e-14,
  // which a nudge of eps turns into ~3e-14 / eps of noise per difference: measured on the autoencoder, whose
  // linear outputs make the loss largest, the error grows tenfold from eps 1e-6 to 1e-7, while the central
  // difference's own error (eps^2 * L''' / 6) dominates only from eps 1e-4. So eps is 1e-5 there and 1e-6 for
  // the U-Net (softmax outputs, a smaller loss, and relu kinks crossed ten times less often).
  o.eps = eps;
  // A conv bias followed by BatchNormalization has an exactly zero gradient (the batch mean removes it): judged
  // relative to zero the rounding noise is a 100% error, so differences below that noise are accepted outright;
  // every gradient that matters here is larger than 1e-4.
  o.atol = 3e-14 / eps;
  return gradcheck(
      [&m](const std::vector<Variable>& in) {
        m.bind_trainable_weights({in.begin() + 1, in.end()});
        m.rng().set_state({2024, 0});  // the same dropout mask for every evaluation
        return m.forward(in[0]);
      },
      inputs, o);
}

int64_t expected_checks(const Model& m, int64_t per_input) {
  int64_t n = per_input;  // the input has more elements than that
  for (const Weight& w : m.trainable_weights()) n += std::min<int64_t>(per_input, w.variable.numel());
  return n;
}
}  // namespace

TEST_CASE("gradcheck: tiny U-Net with batch norm and dropout, w.r.t. input and every weight") {
  // base_filters 2, depth 2, 16x16: 13 convs, 10 batch norms, 2 dropouts, 2 upsamplings, 2 skips, softmax.
  Model m = unet({16, 16, 1}, 2, 2, 2, 0.5, true, 3);
  REQUIRE(m.trainable_weights().size() == 46);
  const GradcheckResult r = check_model(m, random_tensor({2, 16, 16, 1}, 21, -1, 1), 6, 1e-6);
  CHECK_MESSAGE(r.ok, r.message);  // relative error < 1e-6 wherever the gradient is not exactly zero
  CHECK(r.checked == expected_checks(m, 6));
}

TEST_CASE("gradcheck: corrected seed autoencoder at width 2, w.r.t. input and every weight") {
  Model m = seed_autoencoder({16, 16, 3}, true, 5, 2);
  REQUIRE(m.trainable_weights().size() == 46);  // 13 convs + 10 batch norms, two weights each
  const GradcheckResult r = check_model(m, random_tensor({2, 16, 16, 3}, 22, -1, 1), 6, 1e-5);
  CHECK_MESSAGE(r.ok, r.message);  // relative error < 1e-6 wherever the gradient is not exactly zero
  CHECK(r.checked == expected_checks(m, 6));
}

TEST_CASE("gradients reach the bound Variables, and a dropped unit gets none") {
  auto x = Input({3, 3, 1});
  Model m(x, Dropout(0.5)(Conv2D(1, 1).use_bias(false)(x)));
  m.to(DType::F64);
  m.train();
  Variable kernel(Tensor::from({2.0}, {1, 1, 1, 1}, DType::F64), true);
  m.bind_trainable_weights({kernel});
  Variable in(random_tensor({1, 3, 3, 1}, 4, 1, 2), true);
  m.rng().set_state({7, 0});
  Variable y = m(in);
  sum(y).backward();
  // y = mask * 2 * x / 0.5; d sum / d kernel = sum(mask * x) / 0.5; d sum / d x = mask * 2 / 0.5.
  double expected = 0;
  for (int64_t i = 0; i < 9; ++i) {
    const bool kept = y.value().flat(i) != 0.0;
    expected += kept ? in.value().flat(i) / 0.5 : 0.0;
    CHECK(in.grad().flat(i) == doctest::Approx(kept ? 4.0 : 0.0));
  }
  CHECK(kernel.grad().item() == doctest::Approx(expected));
  CHECK_THROWS_WITH_AS(m.bind_trainable_weights({}), doctest::Contains("got 0 Variables"), std::invalid_argument);
}
