#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

TEST_CASE("reduce: values by hand") {
  Variable x(Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3}, DType::F64));
  CHECK(sum(x).item() == 21);
  CHECK(mean(x).item() == 3.5);
  CHECK(sum(x, 0).value().to_vector() == std::vector<double>{5, 7, 9});
  CHECK(sum(x, -1).value().to_vector() == std::vector<double>{6, 15});
  CHECK(mean(x, 1, true).shape() == Shape{2, 1});
  CHECK(mean(x, 1).value().to_vector() == std::vector<double>{2, 5});
  CHECK_THROWS_WITH_AS(sum(x, 2), doctest::Contains("sum: axis 2 out of range for shape [2, 3]"), std::invalid_argument);
}

TEST_CASE("reduce and reshape: gradcheck") {
  const Tensor t = random_tensor({2, 3, 4}, 1);
  expect_gradcheck([](const std::vector<Variable>& in) { return sum(in[0]); }, {t});
  expect_gradcheck([](const std::vector<Variable>& in) { return mean(in[0]); }, {t});
  for (int axis : {0, 1, 2, -1}) {
    CAPTURE(axis);
    expect_gradcheck([axis](const std::vector<Variable>& in) { return sum(in[0], axis); }, {t});
    expect_gradcheck([axis](const std::vector<Variable>& in) { return mean(in[0], axis, true); }, {t});
  }
  expect_gradcheck([](const std::vector<Variable>& in) { return reshape(in[0], {4, -1}) * reshape(in[0], {4, 6}); },
                   {t});
}
