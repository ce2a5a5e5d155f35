#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

TEST_CASE("concat: element order along the channel axis and along axis 1") {
  Variable a(Tensor::from({1, 2, 3, 4}, {1, 2, 2, 1})), b(Tensor::from({10, 11, 20, 21, 30, 31, 40, 41}, {1, 2, 2, 2}));
  CHECK(concat({a, b}, -1).value().to_vector() ==
        std::vector<double>{1, 10, 11, 2, 20, 21, 3, 30, 31, 4, 40, 41});
  Variable c(Tensor::from({5, 6}, {1, 1, 2, 1}));
  Variable y = concat({a, c}, 1);
  CHECK(y.shape() == Shape{1, 3, 2, 1});
  CHECK(y.value().to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("concat: gradcheck along channels and axis 1, with an input used twice") {
  expect_gradcheck([](const std::vector<Variable>& in) { return concat({in[0], in[1], in[0]}, 3); },
                   {random_tensor({2, 2, 3, 2}, 1), random_tensor({2, 2, 3, 3}, 2)});
  expect_gradcheck([](const std::vector<Variable>& in) { return concat({in[1], in[0], in[1]}, 1); },
                   {random_tensor({2, 1, 3, 2}, 3), random_tensor({2, 3, 3, 2}, 4)});
}

TEST_CASE("concat: an input that needs no gradient gets none, the others do") {
  Variable a(random_tensor({1, 2, 2, 2}, 5), true), b(random_tensor({1, 2, 2, 1}, 6));
  Variable y = concat({a, b}, 3);
  y.backward(Tensor::ones(y.shape(), DType::F64));
  CHECK(a.has_grad());
  CHECK(a.grad().to_vector() == std::vector<double>(8, 1.0));
  CHECK_FALSE(b.has_grad());
}

TEST_CASE("concat: errors name the axis and both shapes") {
  Variable big(Tensor::zeros({1, 64, 64, 64})), small(Tensor::zeros({1, 32, 32, 64}));
  CHECK_THROWS_WITH_AS(concat({big, small}, 3),
                       "concat: cannot join [1, 64, 64, 64] and [1, 32, 32, 64] along axis 3: they differ on axis 1 "
                       "(64 vs 32)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(concat({big, small}, -1), doctest::Contains("along axis 3"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(concat({big, Variable(Tensor::zeros({64, 64, 64}))}, 0),
                       doctest::Contains("different ranks (4 vs 3)"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(concat({big, Variable(Tensor::zeros({1, 64, 64, 64}, DType::F64))}, 3),
                       doctest::Contains("cannot join f32 and f64"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(concat({big}, 4), doctest::Contains("axis 4 is out of range"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(concat({}, 0), doctest::Contains("empty list"), std::invalid_argument);
}
