#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

TEST_CASE("matmul: values by hand, float32 and float64") {
  for (DType d : {DType::F32, DType::F64}) {
    Variable a(Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3}, d));
    Variable b(Tensor::from({7, 8, 9, 10, 11, 12}, {3, 2}, d));
    CHECK(matmul(a, b).value().to_vector() == std::vector<double>{58, 64, 139, 154});
  }
  Variable a(Tensor({2, 3}));
  CHECK_THROWS_WITH_AS(matmul(a, a), doctest::Contains("needs [M, K] x [K, N], got [2, 3] x [2, 3]"),
                       std::invalid_argument);
}

TEST_CASE("matmul: gradcheck, and used twice") {
  expect_gradcheck([](const std::vector<Variable>& in) { return matmul(in[0], in[1]); },
                   {random_tensor({3, 5}, 1), random_tensor({5, 4}, 2)});
  expect_gradcheck([](const std::vector<Variable>& in) { return matmul(in[0], in[0]); }, {random_tensor({4, 4}, 3)});
}
