#include "autograd/random/rng.h"

#include <cmath>

#include "autograd/parallel.h"
#include "autograd/tensor.h"

namespace tg {

Rng Rng::derive(uint64_t seed, uint64_t stream, uint64_t index) {
  return Rng(mix(mix(seed ^ kGolden) + mix(stream + 0x632be59bd9b4e019ULL)) + mix(index * kGolden + stream));
}

double Rng::uniform() { return to_unit(next_u64()); }

uint64_t Rng::uniform_int(uint64_t n) { return n ? next_u64() % n : 0; }

double Rng::normal() {
  double u1 = uniform();
  const double u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

double Rng::truncated_normal(double stddev) {
  for (;;) {
    const double z = normal();
    if (std::fabs(z) <= 2.0) return z * stddev;
  }
}

void Rng::fill_uniform(Tensor& t, double lo, double hi) {
  const uint64_t base = state_.counter;
  const int64_t n = t.numel();
  dispatch(t.dtype(), [&]<class T>() {
    T* p = t.data<T>();
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(lo + (hi - lo) * to_unit(at(base + i)));
  });
  state_.counter += static_cast<uint64_t>(n);
}

}  // namespace tg
