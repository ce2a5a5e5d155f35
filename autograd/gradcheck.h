// gradcheck: compares backward()'s gradients with float64 central differences, for any function of Variables.
//
//   auto r = tg::gradcheck([](const std::vector<tg::Variable>& in) { return my_op(in[0], in[1]); }, {x, w});
//   CHECK_MESSAGE(r.ok, r.message);
//
// A non-scalar output is reduced to L = sum(output * R) with fixed random weights R, so every output element
// takes part. Each input element e (all, or a random subset of large inputs) is nudged by +-eps and
// (L(x + eps) - L(x - eps)) / (2 eps) is compared with dL/dx[e] from backward().
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace tg {

struct GradcheckOptions {
  double eps = 1e-6;
  // An element passes when |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|, scale_floor), where
  // scale_floor = 1e-3 * (largest |numeric| of that input), so elements whose gradient is tiny compared with
  // the rest are judged on the input's gradient scale rather than on their own near-zero value.
  double rtol = 1e-6;
  double atol = 0.0;
  int64_t max_checks_per_input = 0;  // 0 = every element; otherwise a seeded random subset
  uint64_t seed = 1234;
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;  // the relative error as defined in GradcheckOptions
  int64_t checked = 0;         // elements compared
  std::string message;         // the first failure: input, element index, analytic and numeric values
  explicit operator bool() const { return ok; }
};

using GradcheckFn = std::function<Variable(const std::vector<Variable>&)>;

// Inputs are converted to float64 copies; the function must accept float64 Variables.
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

}  // namespace tg
