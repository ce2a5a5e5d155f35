#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

TEST_CASE("elementwise: forward values by hand") {
  Variable a(Tensor::from({1, 2, 3, 4}, {2, 2}));
  Variable b(Tensor::from({10, 20}, {2}));
  CHECK((a + b).value().to_vector() == std::vector<double>{11, 22, 13, 24});
  CHECK((a - b).value().to_vector() == std::vector<double>{-9, -18, -7, -16});
  CHECK((b - a).value().to_vector() == std::vector<double>{9, 18, 7, 16});
  CHECK((a * b).value().to_vector() == std::vector<double>{10, 40, 30, 80});
  CHECK((a / b).value().to_vector() == std::vector<double>{0.1f, 0.1f, 0.3f, 0.2f});
  CHECK((a * 2.0 + 1.0).value().to_vector() == std::vector<double>{3, 5, 7, 9});
  CHECK((-a).value().to_vector() == std::vector<double>{-1, -2, -3, -4});
  Variable s(Tensor::from({5}, {1}));
  CHECK((a * s).value().to_vector() == std::vector<double>{5, 10, 15, 20});
}

TEST_CASE("elementwise: shape errors name both shapes") {
  Variable a(Tensor({2, 3}));
  Variable b(Tensor({2}));
  CHECK_THROWS_WITH_AS(a + b, doctest::Contains("add: cannot broadcast shapes [2, 3] and [2]"), std::invalid_argument);
}

TEST_CASE("elementwise: gradcheck same-shape, per-channel and scalar broadcast") {
  const Shape nhwc{2, 3, 3, 4};
  for (auto op : {"add", "sub", "mul", "div"}) {
    CAPTURE(op);
    auto f = [op](const std::vector<Variable>& in) {
      const std::string o = op;
      if (o == "add") return in[0] + in[1];
      if (o == "sub") return in[0] - in[1];
      if (o == "mul") return in[0] * in[1];
      return in[0] / in[1];
    };
    expect_gradcheck(f, {random_tensor(nhwc, 1), random_tensor(nhwc, 2, 0.5, 2.0)});
    expect_gradcheck(f, {random_tensor(nhwc, 3), random_tensor({4}, 4, 0.5, 2.0)});      // per channel
    expect_gradcheck(f, {random_tensor({4}, 5, 0.5, 2.0), random_tensor(nhwc, 6, 0.5, 2.0)});
    expect_gradcheck(f, {random_tensor(nhwc, 7), random_tensor({1}, 8, 0.5, 2.0)});      // scalar
  }
  expect_gradcheck([](const std::vector<Variable>& in) { return -(in[0] * 3.0 - 2.0) / 4.0; },
                   {random_tensor({5}, 9)});
}

TEST_CASE("elementwise: chains and fan-out gradcheck") {
  expect_gradcheck(
      [](const std::vector<Variable>& in) {
        Variable u = in[0] * in[1];
        return u * u + u / in[1] - in[0];
      },
      {random_tensor({3, 4}, 10), random_tensor({4}, 11, 0.5, 1.5)});
}
