#include <doctest/doctest.h>

#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

TEST_CASE("slice_batch: the samples asked for, gradcheck, and the batch's bounds") {
  const Tensor x = random_tensor({4, 2, 3}, 61);
  const Variable s = slice_batch(Variable(x), 1, 3);
  CHECK(s.shape() == Shape{2, 2, 3});
  CHECK(s.value().to_vector() == x.slice(1, 3).to_vector());
  expect_gradcheck([](const std::vector<Variable>& in) { return slice_batch(in[0], 1, 3); }, {x});
  expect_gradcheck([](const std::vector<Variable>& in) { return slice_batch(in[0], 2, 2); }, {x});  // empty
  CHECK_THROWS_WITH_AS(slice_batch(Variable(x), 3, 5), doctest::Contains("not within the batch"),
                       std::invalid_argument);
}
