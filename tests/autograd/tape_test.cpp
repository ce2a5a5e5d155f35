#include <doctest/doctest.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "autograd/autograd.h"

using namespace tg;

TEST_CASE("tape: gradient of a value used twice accumulates (fan-out)") {
  Variable x(Tensor::from({3.0}, {1}, DType::F64), true);
  Variable y = x * x + x;  // dy/dx = 2x + 1 = 7
  sum(y).backward();
  CHECK(x.grad().item() == doctest::Approx(7.0));
}

TEST_CASE("tape: backward tells each leaf's final gradient as soon as every op reading it has run") {
  // A two-layer chain: w2 is read last in the forward pass, so its gradient is final first; w1 feeds two ops (its
  // gradient is final only after the earlier of them has run); a leaf the loss does not reach is never told.
  Variable x(Tensor::from({1.0, -2.0}, {1, 2}, DType::F64));
  Variable w1(Tensor::from({0.5, -1.0, 2.0, 1.5}, {2, 2}, DType::F64), true);
  Variable w2(Tensor::from({1.0, 3.0}, {2, 1}, DType::F64), true);
  Variable unused(Tensor::from({4.0}, {1}, DType::F64), true);
  const Variable h = relu(matmul(x, w1));
  Variable loss = add(sum(matmul(h, w2)), sum(mul(w1, w1)));
  std::vector<std::pair<const Node*, Tensor>> told;
  loss.backward([&](Node& leaf) { told.emplace_back(&leaf, leaf.grad.clone()); });
  REQUIRE(told.size() == 2);
  CHECK(told[0].first == w2.node());
  CHECK(told[1].first == w1.node());
  // What each was told is its whole gradient: nothing was added afterwards.
  CHECK(std::equal(told[0].second.data<double>(), told[0].second.data<double>() + 2, w2.grad().data<double>()));
  CHECK(std::equal(told[1].second.data<double>(), told[1].second.data<double>() + 4, w1.grad().data<double>()));
}

TEST_CASE("tape: gradients accumulate across backward calls until zero_grad") {
  Variable x(Tensor::from({2.0}, {1}, DType::F64), true);
  sum(x * 3.0).backward();
  sum(x * 3.0).backward();
  CHECK(x.grad().item() == doctest::Approx(6.0));
  x.zero_grad();
  CHECK_FALSE(x.has_grad());
}

TEST_CASE("tape: backward frees the graph, and a second backward is a clear error") {
  Variable x(Tensor::from({1.0, 2.0}, {2}, DType::F64), true);
  const size_t nodes = recorded_nodes();
  Variable loss = sum(exp(x));
  CHECK(recorded_nodes() == nodes + 2);
  loss.backward();
  CHECK(recorded_nodes() == nodes);
  CHECK_THROWS_WITH_AS(loss.backward(),
                       doctest::Contains("backward() called twice on the same graph"), std::logic_error);
}

TEST_CASE("tape: non-scalar backward needs a seed") {
  Variable x(Tensor::from({1.0, 2.0}, {2}, DType::F64), true);
  Variable y = x * 2.0;
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("needs a scalar, but the value has shape [2]"),
                       std::invalid_argument);
  y.backward(Tensor::from({1.0, 10.0}, {2}, DType::F64));
  CHECK(x.grad().flat(0) == 2.0);
  CHECK(x.grad().flat(1) == 20.0);
}

TEST_CASE("tape: NoGrad records nothing") {
  Variable x(Tensor::from({1.0}, {1}), true);
  {
    NoGrad no_grad;
    Variable y = exp(x) * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(recorded_nodes() == 0);
    CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("does not require a gradient"), std::logic_error);
  }
  CHECK(grad_enabled());
}

TEST_CASE("tape: values that need no gradient are not recorded") {
  Variable a(Tensor::from({1.0}, {1}));
  Variable b = exp(a) + a;
  CHECK_FALSE(b.requires_grad());
  CHECK(recorded_nodes() == 0);
}

TEST_CASE("tape: memory does not grow over 1000 forward/backward iterations") {
  Variable w(Tensor::full({16, 16}, 0.01), true);
  Variable x(Tensor::full({8, 16}, 1.0));
  size_t after_first = 0, after_last = 0;
  for (int it = 0; it < 1000; ++it) {
    Variable loss = mean(tanh(matmul(x, w)));
    loss.backward();
    w.zero_grad();
    if (it == 0) after_first = live_tensor_bytes();
    if (it == 999) after_last = live_tensor_bytes();
    CHECK(recorded_nodes() == 0);
  }
  CHECK(after_last == after_first);
}
