// Keras's initializers: distributions checked against their formulas, and determinism from the model seed.
#include <doctest/doctest.h>

#include <cmath>

#include "layers/initializers.h"
#include "layers/layers.h"

using namespace tg;

namespace {
struct Stats {
  double mean = 0, std = 0, max_abs = 0;
};
Stats stats(const Tensor& t) {
  Stats s;
  const auto v = t.to_vector();
  for (double x : v) s.mean += x, s.max_abs = std::max(s.max_abs, std::fabs(x));
  s.mean /= double(v.size());
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / double(v.size()));
  return s;
}
}  // namespace

TEST_CASE("he_normal: truncated normal whose variance is 2 / fan_in") {
  // Conv2D 64 -> 128, 3x3: fan_in = 3*3*64 = 576, stddev sqrt(2/576) = 0.0589256; the draw's own stddev is
  // 0.0589256 / 0.8796257 = 0.0669895, truncated at twice that, 0.133979.
  Tensor k({3, 3, 64, 128});
  initialize_tensor(k, "he_normal", 7);
  const Stats s = stats(k);
  CHECK(s.std == doctest::Approx(0.0589256).epsilon(0.01));
  CHECK(std::fabs(s.mean) < 1e-3);
  CHECK(s.max_abs <= 0.133979);
  CHECK(s.max_abs > 0.13);
}

TEST_CASE("glorot_uniform: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out))") {
  // 3x3, 32 -> 64: fan_in 288, fan_out 576, limit sqrt(6/864) = 0.0833333, stddev limit/sqrt(3) = 0.0481125.
  Tensor k({3, 3, 32, 64});
  initialize_tensor(k, "glorot_uniform", 3);
  const Stats s = stats(k);
  CHECK(s.max_abs <= 0.0833334);
  CHECK(s.max_abs > 0.0833);
  CHECK(s.std == doctest::Approx(0.0481125).epsilon(0.01));
}

TEST_CASE("Conv2DTranspose kernels (kh, kw, filters, in) take fan_in from the filters, as Keras does") {
  // ConvT(256, 2) on 128 channels: kernel [2, 2, 256, 128], fan_in = 2*2*256 = 1024: he_normal stddev
  // sqrt(2/1024) = 0.0441942 (with fan_in from the 128 inputs it would be 0.0625).
  auto x = Input({4, 4, 128});
  Model m(x, Conv2DTranspose(256, 2).kernel_initializer("he_normal")(x));
  CHECK(stats(m.weights()[0].variable.value()).std == doctest::Approx(0.0441942).epsilon(0.01));
}

TEST_CASE("zeros, ones and the defaults: biases zero, BN gamma one, moving variance one") {
  Model m = seed_autoencoder({8, 8, 3}, true, 0, 4);
  for (const Weight& w : m.weights()) {
    const Stats s = stats(w.variable.value());
    const std::string suffix = w.name.substr(w.name.find('/') + 1);
    if (suffix == "bias" || suffix == "beta" || suffix == "moving_mean") CHECK(s.max_abs == 0.0);
    if (suffix == "gamma" || suffix == "moving_variance") CHECK((s.mean == 1.0 && s.std == 0.0));
    if (suffix == "kernel") CHECK(s.std > 0.0);
  }
}

TEST_CASE("initial weights are a function of the seed and the layer's place") {
  auto weights_of = [](uint64_t seed) {
    std::vector<std::vector<double>> out;
    for (const Weight& w : unet({16, 16, 1}, 2, 2, 2, 0.5, false, seed).weights())
      out.push_back(w.variable.value().to_vector());
    return out;
  };
  const auto a = weights_of(5), b = weights_of(5), c = weights_of(6);
  CHECK(a == b);
  CHECK(a != c);
  // Two layers of the same shape (conv2d_1 and conv2d_11 are both 3x3, 2 -> 2) draw different numbers.
  Model m = unet({16, 16, 1}, 2, 2, 2, 0.5, false, 5);
  CHECK(m.layer("conv2d_1").weights()[0].variable.shape() == m.layer("conv2d_11").weights()[0].variable.shape());
  CHECK(m.layer("conv2d_1").weights()[0].variable.value().to_vector() !=
        m.layer("conv2d_11").weights()[0].variable.value().to_vector());
  // initialize() re-draws exactly what construction drew.
  m.initialize(6);
  std::vector<std::vector<double>> redrawn;
  for (const Weight& w : m.weights()) redrawn.push_back(w.variable.value().to_vector());
  CHECK(redrawn == c);
}
