#include <cmath>

#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::random_tensor;

namespace {
// A user's op with a deliberately wrong backward: d/dx (x^3) claimed to be 2x^2.
Variable wrong_cube(const Variable& x) {
  Tensor y(x.shape(), x.dtype());
  for (int64_t i = 0; i < y.numel(); ++i) y.set_flat(i, std::pow(x.value().flat(i), 3));
  return record("wrong_cube", std::move(y), {&x}, [x](const Tensor& g) {
    Tensor gx(g.shape(), g.dtype());
    for (int64_t i = 0; i < g.numel(); ++i) gx.set_flat(i, g.flat(i) * 2 * std::pow(x.value().flat(i), 2));
    x.node()->accumulate_grad(std::move(gx));
  });
}
}  // namespace

TEST_CASE("gradcheck: catches a wrong backward and names the element") {
  Tensor x = Tensor::from({1.0, 2.0, 3.0}, {3}, DType::F64);
  GradcheckResult r = gradcheck([](const std::vector<Variable>& in) { return wrong_cube(in[0]); }, {x});
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("input 0 [3] element 0 [0]: analytic") != std::string::npos);
}

TEST_CASE("gradcheck: random subset of a large input") {
  GradcheckOptions o;
  o.max_checks_per_input = 10;
  GradcheckResult r = gradcheck([](const std::vector<Variable>& in) { return tanh(in[0]); },
                                {random_tensor({1000}, 1)}, o);
  CHECK_MESSAGE(r.ok, r.message);
  CHECK(r.checked == 10);
}

TEST_CASE("gradcheck: float32 inputs are checked in float64") {
  GradcheckResult r =
      gradcheck([](const std::vector<Variable>& in) { return exp(in[0]); }, {Tensor::from({0.5, 1.5}, {2})});
  CHECK_MESSAGE(r.ok, r.message);
}
