// Helpers shared by the autograd tests.
#pragma once
#include <doctest/doctest.h>

#include "autograd/autograd.h"

namespace tg::testing {

// A float64 tensor of the given shape filled with U[lo, hi) from a fixed seed.
inline Tensor random_tensor(Shape shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Tensor t(std::move(shape), DType::F64);
  Rng rng(seed);
  rng.fill_uniform(t, lo, hi);
  return t;
}

// Runs gradcheck and fails the current test with its message; returns the result for reporting.
inline GradcheckResult expect_gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                                        GradcheckOptions options = {}) {
  GradcheckResult r = gradcheck(f, inputs, options);
  CHECK_MESSAGE(r.ok, r.message);
  CHECK(r.max_rel_error < 1e-6);
  return r;
}

}  // namespace tg::testing
