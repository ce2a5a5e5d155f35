#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

TEST_CASE("dropout: keeps about 1 - rate of the elements and scales them by 1 / (1 - rate)") {
  const int64_t n = 200000;
  Rng rng(42);
  Variable y = dropout(Variable(Tensor::ones({n})), 0.3, true, rng);
  int64_t kept = 0;
  bool values_ok = true;
  const float scale = static_cast<float>(1.0 / 0.7);
  for (float v : y.value().span<float>()) {
    if (v != 0.0f) ++kept;
    values_ok = values_ok && (v == 0.0f || v == scale);
  }
  CHECK(values_ok);
  // Binomial(200000, 0.7): standard deviation of the kept fraction is about 0.001.
  CHECK(static_cast<double>(kept) / n == doctest::Approx(0.7).epsilon(0.01));
  CHECK(rng.state().counter == static_cast<uint64_t>(n));
}

TEST_CASE("dropout: element i is kept when draw counter + i of the generator is at least the rate") {
  Rng rng(RngState{9, 1000});
  Rng reference(rng.state());
  Variable y = dropout(Variable(Tensor::ones({4, 5, 5, 3}, DType::F64)), 0.45, true, rng);
  for (int64_t i = 0; i < y.numel(); ++i) {
    const bool keep = reference.uniform() >= 0.45;
    CHECK(y.value().flat(i) == (keep ? 1.0 / 0.55 : 0.0));
  }
  CHECK(rng.state().counter == 1000 + 300);
}

TEST_CASE("dropout: the same generator state gives the same mask, for any thread count") {
  const Tensor x = random_tensor({4, 64, 64, 8}, 3);  // large enough for the parallel path
  Rng a(RngState{5, 77}), b(RngState{5, 77});
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  Variable ya = dropout(Variable(x), 0.5, true, a);
  omp_set_num_threads(3);
  Variable yb = dropout(Variable(x), 0.5, true, b);
  omp_set_num_threads(saved);
  CHECK(std::memcmp(ya.value().bytes(), yb.value().bytes(), ya.value().nbytes()) == 0);
  // The advanced generator gives a different mask next time.
  Variable yc = dropout(Variable(x), 0.5, true, a);
  CHECK(std::memcmp(ya.value().bytes(), yc.value().bytes(), ya.value().nbytes()) != 0);
}

TEST_CASE("dropout: identity, drawing nothing, at inference and with rate 0") {
  Rng rng(1);
  Variable x(random_tensor({2, 3, 3, 2}, 4));
  CHECK(dropout(x, 0.5, false, rng).value().to_vector() == x.value().to_vector());
  CHECK(dropout(x, 0.0, true, rng).value().to_vector() == x.value().to_vector());
  CHECK(rng.state().counter == 0);
}

TEST_CASE("dropout: gradcheck with a fixed mask, and the backward mask matches the forward one") {
  expect_gradcheck(
      [](const std::vector<Variable>& in) {
        Rng rng(RngState{11, 5});  // every evaluation draws the same mask
        return dropout(in[0], 0.4, true, rng);
      },
      {random_tensor({2, 3, 3, 2}, 6)});

  Rng rng(RngState{12, 0});
  Variable x(random_tensor({3, 4, 4, 2}, 7, 0.5, 1.5), true);
  Variable y = dropout(x, 0.25, true, rng);
  y.backward(Tensor::ones(y.shape(), DType::F64));
  for (int64_t i = 0; i < x.numel(); ++i)
    CHECK(x.grad().flat(i) == (y.value().flat(i) != 0.0 ? 1.0 / 0.75 : 0.0));
}

TEST_CASE("dropout: a rate outside 0 <= rate < 1 is an error naming it") {
  Rng rng(1);
  Variable x(Tensor::ones({4}));
  CHECK_THROWS_WITH_AS(dropout(x, 1.0, true, rng), doctest::Contains("rate 1 is outside [0, 1)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(dropout(x, -0.1, false, rng), doctest::Contains("rate -0.1 is outside"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(dropout(x, std::numeric_limits<double>::quiet_NaN(), true, rng),
                       doctest::Contains("rate nan is outside"), std::invalid_argument);
}
