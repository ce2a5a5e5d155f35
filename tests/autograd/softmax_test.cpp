#include <cmath>

#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

TEST_CASE("softmax: values by hand, stable for large logits") {
  Variable x(Tensor::from({0.0, std::log(3.0), 1000.0, 1000.0}, {2, 2}, DType::F64));
  auto y = softmax(x).value().to_vector();
  CHECK(y[0] == doctest::Approx(0.25));
  CHECK(y[1] == doctest::Approx(0.75));
  CHECK(y[2] == doctest::Approx(0.5));
  auto l = log_softmax(x).value().to_vector();
  CHECK(l[0] == doctest::Approx(std::log(0.25)));
  CHECK(l[3] == doctest::Approx(std::log(0.5)));
}

TEST_CASE("softmax: gradcheck over the channel axis of NHWC") {
  expect_gradcheck([](const std::vector<Variable>& in) { return softmax(in[0]); }, {random_tensor({2, 3, 3, 4}, 1, -3, 3)});
  expect_gradcheck([](const std::vector<Variable>& in) { return log_softmax(in[0]); },
                   {random_tensor({2, 3, 3, 4}, 2, -3, 3)});
}
