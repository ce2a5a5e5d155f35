#include "layers/initializers.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include "autograd/parallel.h"
#include "autograd/random/rng.h"

namespace tg {

namespace {
constexpr std::array<const char*, 8> kKnown = {"zeros",        "ones",      "glorot_uniform", "glorot_normal",
                                               "he_normal",    "he_uniform", "lecun_normal",  "lecun_uniform"};
// Standard deviation of a unit normal truncated at +-2 (Keras's VarianceScaling divides by it).
constexpr double kTruncatedStd = 0.87962566103423978;
// Counter block per element for truncated draws: a rejection needs more than 64 draws with probability ~1e-43.
constexpr uint64_t kDrawsPerElement = 64;

// Element i draws from its own block of counters, so the fill is parallel and the same for any thread count.
// Box-Muller gives two normals per pair of uniforms; the second is only needed when the first is rejected.
void fill_truncated_normal(Tensor& t, double stddev, uint64_t seed) {
  const int64_t n = t.numel();
  const Rng rng(seed);
  dispatch(t.dtype(), [&]<class T>() {
    T* p = t.data<T>();
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t base = static_cast<uint64_t>(i) * kDrawsPerElement;
      double z = 0;
      for (uint64_t k = 0; k < kDrawsPerElement; k += 2) {
        const double u1 = std::max(static_cast<double>(rng.at(base + k) >> 11) * 0x1.0p-53, 1e-300);
        const double u2 = static_cast<double>(rng.at(base + k + 1) >> 11) * 0x1.0p-53;
        const double r = std::sqrt(-2.0 * std::log(u1)), theta = 2.0 * M_PI * u2;
        if (z = r * std::cos(theta); std::fabs(z) <= 2.0) break;
        if (z = r * std::sin(theta); std::fabs(z) <= 2.0) break;
      }
      p[i] = static_cast<T>(z * stddev);
    }
  });
}
}  // namespace

std::string checked_initializer(const std::string& name, const std::string& who) {
  for (const char* k : kKnown)
    if (name == k) return name;
  std::string known;
  for (const char* k : kKnown) known += std::string(known.empty() ? "" : ", ") + k;
  throw std::invalid_argument(who + ": unknown initializer '" + name + "'; known: " + known);
}

Fans compute_fans(const Shape& shape) {
  if (shape.empty()) return {};
  if (shape.size() == 1) return {double(shape[0]), double(shape[0])};
  double receptive = 1;
  for (size_t i = 0; i + 2 < shape.size(); ++i) receptive *= double(shape[i]);
  return {double(shape[shape.size() - 2]) * receptive, double(shape.back()) * receptive};
}

void initialize_tensor(Tensor& t, const std::string& initializer, uint64_t seed) {
  const Fans f = compute_fans(t.shape());
  Rng rng(seed);
  if (initializer == "zeros") {
    t.fill(0.0);
  } else if (initializer == "ones") {
    t.fill(1.0);
  } else if (initializer == "glorot_uniform") {
    const double limit = std::sqrt(6.0 / (f.fan_in + f.fan_out));
    rng.fill_uniform(t, -limit, limit);
  } else if (initializer == "he_uniform") {
    const double limit = std::sqrt(6.0 / f.fan_in);
    rng.fill_uniform(t, -limit, limit);
  } else if (initializer == "lecun_uniform") {
    const double limit = std::sqrt(3.0 / f.fan_in);
    rng.fill_uniform(t, -limit, limit);
  } else if (initializer == "glorot_normal") {
    fill_truncated_normal(t, std::sqrt(2.0 / (f.fan_in + f.fan_out)) / kTruncatedStd, seed);
  } else if (initializer == "he_normal") {
    fill_truncated_normal(t, std::sqrt(2.0 / f.fan_in) / kTruncatedStd, seed);
  } else if (initializer == "lecun_normal") {
    fill_truncated_normal(t, std::sqrt(1.0 / f.fan_in) / kTruncatedStd, seed);
  } else {
    checked_initializer(initializer, "initialize_tensor");
  }
}

}  // namespace tg
