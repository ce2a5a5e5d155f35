#include <cmath>

#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

TEST_CASE("upsample2d: nearest repeats rows and columns") {
  for (DType d : {DType::F32, DType::F64}) {
    Variable x(Tensor::from({1, 2, 3, 4}, {1, 2, 2, 1}, d));
    Variable y = upsample2d(x, {2, 3}, Interpolation::Nearest);
    CHECK(y.shape() == Shape{1, 4, 6, 1});
    CHECK(y.value().to_vector() == std::vector<double>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
                                                       3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4});
  }
}

TEST_CASE("upsample2d: bilinear with half-pixel centres, clamped at the borders (by hand)") {
  // Factor 2 on [0, 4]: sources -0.25 (clamped: 0), 0.25, 0.75, 1.25 (clamped: 4).
  Variable row(Tensor::from({0, 4}, {1, 1, 2, 1}, DType::F64));
  CHECK(upsample2d(row, {1, 2}, Interpolation::Bilinear).value().to_vector() == std::vector<double>{0, 1, 3, 4});
  // Factor 3 on [0, 6]: sources -1/3, 0, 1/3, 2/3, 1, 4/3.
  Variable wide(Tensor::from({0, 6}, {1, 1, 2, 1}, DType::F64));
  const std::vector<double> expected{0, 0, 2, 4, 6, 6};
  const std::vector<double> got = upsample2d(wide, {1, 3}, Interpolation::Bilinear).value().to_vector();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-14));
  // Both axes, two channels: the 2-D result is the product of the 1-D weights.
  Variable x(Tensor::from({0, 10, 4, 20, 8, 30, 12, 40}, {1, 2, 2, 2}, DType::F64));
  Variable y = upsample2d(x, {2, 2}, Interpolation::Bilinear);
  CHECK(y.shape() == Shape{1, 4, 4, 2});
  CHECK(y.value().at({0, 0, 0, 0}) == 0);                                // corner: clamped on both axes
  CHECK(y.value().at({0, 1, 1, 0}) == doctest::Approx(0.75 * 0.75 * 0 + 0.75 * 0.25 * 4 + 0.25 * 0.75 * 8 +
                                                      0.25 * 0.25 * 12));
  CHECK(y.value().at({0, 3, 2, 1}) == doctest::Approx(0.25 * 30 + 0.75 * 40));  // bottom row clamped
}

TEST_CASE("upsample2d: gradcheck, both modes, factors (2, 2) and (2, 3)") {
  for (Interpolation mode : {Interpolation::Nearest, Interpolation::Bilinear})
    for (std::array<int, 2> size : {std::array<int, 2>{2, 2}, std::array<int, 2>{2, 3}}) {
      CAPTURE(static_cast<int>(mode));
      CAPTURE(size[1]);
      expect_gradcheck([mode, size](const std::vector<Variable>& in) { return upsample2d(in[0], size, mode); },
                       {random_tensor({2, 3, 4, 2}, 11)});
    }
}

TEST_CASE("upsample2d: shape errors name the fault") {
  CHECK_THROWS_WITH_AS(upsample2d(Variable(Tensor({2, 2, 3})), {2, 2}, Interpolation::Nearest),
                       doctest::Contains("upsample2d: input must be [N, H, W, C], got [2, 2, 3]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(upsample2d(Variable(Tensor({1, 2, 2, 3})), {0, 2}, Interpolation::Bilinear),
                       doctest::Contains("upsample2d: size must be positive integer factors, got (0, 2)"),
                       std::invalid_argument);
}
