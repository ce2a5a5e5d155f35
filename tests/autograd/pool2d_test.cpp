#include <cmath>
#include <limits>

#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::expect_gradcheck;

namespace {

Pool2DOptions pool(std::array<int, 2> size, std::array<int, 2> strides, Padding padding) {
  Pool2DOptions o;
  o.pool_size = size;
  o.strides = strides;
  o.padding = padding;
  return o;
}

// Distinct values 0.01 apart in a scrambled order, so no max-pool window has a tie within gradcheck's step.
Tensor distinct_tensor(Shape shape) {
  Tensor t(std::move(shape), DType::F64);
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) t.set_flat(i, static_cast<double>((i * 37 + 11) % n) * 0.01 - 0.3);
  return t;
}

}  // namespace

TEST_CASE("pool2d: values by hand") {
  for (DType d : {DType::F32, DType::F64}) {
    Variable x(Tensor::from({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 3, 3, 1}, d));
    // 2x2, strides default to the pool size; 'valid' drops the last row and column.
    CHECK(max_pool2d(x, pool({2, 2}, {-1, -1}, Padding::Valid)).value().to_vector() == std::vector<double>{5});
    // 'same': out 2x2, padding 0 before and 1 after; windows [0, 2) and [2, 3).
    CHECK(max_pool2d(x, pool({2, 2}, {-1, -1}, Padding::Same)).value().to_vector() ==
          std::vector<double>{5, 6, 8, 9});
    // The average counts only real cells: (3 + 6) / 2, not / 4.
    CHECK(avg_pool2d(x, pool({2, 2}, {-1, -1}, Padding::Same)).value().to_vector() ==
          std::vector<double>{3, 4.5, 7.5, 9});
    CHECK(avg_pool2d(x, pool({3, 3}, {1, 1}, Padding::Same)).value().to_vector() ==
          std::vector<double>{3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7});
    // Pool 2x3 with strides 1x2 'valid' on 3x3: out 2x1.
    CHECK(max_pool2d(x, pool({2, 3}, {1, 2}, Padding::Valid)).value().to_vector() == std::vector<double>{6, 9});
    // Padding never wins a max: an all-negative image keeps its values.
    Variable neg(Tensor::full({1, 3, 3, 2}, -5.0, d));
    for (double v : max_pool2d(neg, pool({2, 2}, {-1, -1}, Padding::Same)).value().to_vector()) CHECK(v == -5.0);
  }
}

TEST_CASE("max_pool2d: a tie sends the gradient to the first max in window order") {
  // Window [[5, 7], [7, 1]] (channel 0) and [[2, 2], [2, 2]] (channel 1).
  Variable x(Tensor::from({5, 2, 7, 2, 7, 2, 1, 2}, {1, 2, 2, 2}, DType::F64), true);
  Variable y = max_pool2d(x, pool({2, 2}, {-1, -1}, Padding::Valid));
  CHECK(y.value().to_vector() == std::vector<double>{7, 2});
  y.backward(Tensor::from({10, 20}, {1, 1, 1, 2}, DType::F64));
  CHECK(x.grad().to_vector() == std::vector<double>{0, 20, 10, 0, 0, 0, 0, 0});
  // A NaN in the first cell wins (as a comparison running in window order keeps it) and takes the gradient; a NaN
  // later in the window is passed over.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Variable n(Tensor::from({nan, 1, 5, 3, 2, nan, 4, 1}, {1, 2, 2, 2}, DType::F64), true);
  Variable m = max_pool2d(n, pool({2, 2}, {-1, -1}, Padding::Valid));
  CHECK(std::isnan(m.value().flat(0)));
  CHECK(m.value().flat(1) == 3);
  m.backward(Tensor::from({10, 20}, {1, 1, 1, 2}, DType::F64));
  CHECK(n.grad().to_vector() == std::vector<double>{10, 0, 0, 20, 0, 0, 0, 0});
  // Overlapping windows that share the maximum each send their gradient to it.
  Variable z(Tensor::from({1, 9, 2, 3}, {1, 1, 4, 1}, DType::F64), true);
  Variable p = max_pool2d(z, pool({1, 2}, {1, 1}, Padding::Valid));
  CHECK(p.value().to_vector() == std::vector<double>{9, 9, 3});
  p.backward(Tensor::from({1, 2, 4}, {1, 1, 3, 1}, DType::F64));
  CHECK(z.grad().to_vector() == std::vector<double>{0, 3, 0, 4});
}

TEST_CASE("pool2d: gradcheck") {
  struct Case {
    const char* name;
    Pool2DOptions options;
  };
  const std::vector<Case> cases = {
      {"2x2 valid", pool({2, 2}, {-1, -1}, Padding::Valid)},
      {"2x2 same, odd sizes", pool({2, 2}, {-1, -1}, Padding::Same)},
      {"3x3 stride 2 same, overlapping", pool({3, 3}, {2, 2}, Padding::Same)},
      {"3x3 stride 1 same", pool({3, 3}, {1, 1}, Padding::Same)},
      {"2x3 strides 1x2 valid", pool({2, 3}, {1, 2}, Padding::Valid)},
      // Windows of more than 256 cells keep 4-byte positions instead of one byte.
      {"17x16 same, tiling", pool({17, 16}, {-1, -1}, Padding::Same)},
      {"17x16 stride 1 same, overlapping", pool({17, 16}, {1, 1}, Padding::Same)},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const Pool2DOptions o = c.options;
    const Tensor x = distinct_tensor({2, 5, 7, 2});
    expect_gradcheck([o](const std::vector<Variable>& in) { return max_pool2d(in[0], o); }, {x});
    expect_gradcheck([o](const std::vector<Variable>& in) { return avg_pool2d(in[0], o); }, {x});
  }
}

TEST_CASE("max_pool2d: its backward pass keeps one byte per output (where in the window the max was), not x") {
  Variable x(Tensor({1, 64, 64, 16}), true);
  const size_t before = live_tensor_bytes();
  Variable y = max_pool2d(x, pool({2, 2}, {-1, -1}, Padding::Valid));
  CHECK(live_tensor_bytes() - before == y.numel() * sizeof(float) + y.numel() * sizeof(uint8_t));
}

TEST_CASE("pool2d: a pool larger than the input under 'same', values by hand") {
  // Height 3, pool 4x1, stride 1: out 3, total = 2 + 4 - 3 = 3, so one row before and two after; padding never
  // wins a max and is not counted in an average (TensorFlow). Windows: rows 0..2, 0..2, 1..2.
  Variable x(Tensor::from({5, 1, 2}, {1, 3, 1, 1}, DType::F64));
  CHECK(max_pool2d(x, pool({4, 1}, {1, 1}, Padding::Same)).value().to_vector() == std::vector<double>{5, 5, 2});
  CHECK(avg_pool2d(x, pool({4, 1}, {1, 1}, Padding::Same)).value().to_vector() ==
        std::vector<double>{8.0 / 3, 8.0 / 3, 1.5});
  // 2x3 input, 3x3 pool with the default strides: one window over everything (rows 0..1 plus one row after).
  Variable y(Tensor::from({1, -2, 7, 4, 0.5, -1}, {1, 2, 3, 1}, DType::F64));
  CHECK(max_pool2d(y, pool({3, 3}, {-1, -1}, Padding::Same)).value().to_vector() == std::vector<double>{7});
  CHECK(avg_pool2d(y, pool({3, 3}, {-1, -1}, Padding::Same)).value().to_vector() == std::vector<double>{9.5 / 6});
}

TEST_CASE("pool2d: shape errors name the fault") {
  Variable x(Tensor({1, 2, 3, 4}));
  CHECK_THROWS_WITH_AS(max_pool2d(x, pool({3, 3}, {-1, -1}, Padding::Valid)),
                       doctest::Contains("max_pool2d: pool 3x3 is larger than the input [1, 2, 3, 4]"),
                       std::invalid_argument);
  CHECK_NOTHROW(max_pool2d(x, pool({3, 3}, {-1, -1}, Padding::Same)));
  CHECK_THROWS_WITH_AS(avg_pool2d(Variable(Tensor({2, 3, 4})), {}),
                       doctest::Contains("avg_pool2d: input must be [N, H, W, C], got [2, 3, 4]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(avg_pool2d(x, pool({0, 2}, {-1, -1}, Padding::Valid)),
                       doctest::Contains("avg_pool2d: pool size must be positive, got 0"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(x, pool({1, 1}, {1, 0}, Padding::Valid)),
                       doctest::Contains("max_pool2d: stride must be positive"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(x, pool({1, 1}, {1, 1}, Padding::Explicit)),
                       doctest::Contains("max_pool2d: padding must be Valid or Same"), std::invalid_argument);
}
