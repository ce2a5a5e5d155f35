#include <cmath>

#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

TEST_CASE("unary: forward values by hand") {
  Variable x(Tensor::from({-2.0, 0.0, 1.0}, {3}, DType::F64));
  auto v = [](const Variable& y) { return y.value().to_vector(); };
  CHECK(v(relu(x)) == std::vector<double>{0, 0, 1});
  CHECK(v(exp(x))[2] == doctest::Approx(2.718281828459045));
  CHECK(v(sigmoid(x))[1] == 0.5);
  CHECK(v(sigmoid(x))[0] == doctest::Approx(0.11920292202211755));
  CHECK(v(tanh(x))[2] == doctest::Approx(0.7615941559557649));
  Variable p(Tensor::from({1.0, M_E}, {2}, DType::F64));
  CHECK(v(log(p))[1] == doctest::Approx(1.0));
}

TEST_CASE("unary: relu passes NaN through, as TensorFlow does") {
  Variable x(Tensor::from({std::nan(""), -1.0}, {2}));
  auto y = relu(x).value().to_vector();
  CHECK(std::isnan(y[0]));
  CHECK(y[1] == 0.0);
}

TEST_CASE("unary: sigmoid does not overflow at large magnitudes") {
  Variable x(Tensor::from({-1000.0, 1000.0}, {2}));
  auto y = sigmoid(x).value().to_vector();
  CHECK(y[0] == 0.0);
  CHECK(y[1] == 1.0);
}

TEST_CASE("unary: gradcheck") {
  // relu is checked away from its kink at 0.
  Tensor away_from_zero = random_tensor({2, 3, 3, 2}, 1, 0.1, 1.0);
  for (int64_t i = 0; i < away_from_zero.numel(); i += 2) away_from_zero.set_flat(i, -away_from_zero.flat(i));
  expect_gradcheck([](const std::vector<Variable>& in) { return relu(in[0]); }, {away_from_zero});
  expect_gradcheck([](const std::vector<Variable>& in) { return exp(in[0]); }, {random_tensor({2, 5}, 2)});
  expect_gradcheck([](const std::vector<Variable>& in) { return log(in[0]); }, {random_tensor({2, 5}, 3, 0.2, 3.0)});
  expect_gradcheck([](const std::vector<Variable>& in) { return sigmoid(in[0]); }, {random_tensor({2, 5}, 4, -4, 4)});
  expect_gradcheck([](const std::vector<Variable>& in) { return tanh(in[0]); }, {random_tensor({2, 5}, 5, -2, 2)});
  expect_gradcheck([](const std::vector<Variable>& in) { return tanh(sigmoid(in[0]) * exp(in[0])); },
                   {random_tensor({7}, 6)});
}
