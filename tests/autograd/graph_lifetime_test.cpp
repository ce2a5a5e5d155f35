#include <doctest/doctest.h>

#include "autograd/autograd.h"

using namespace tg;

TEST_CASE("graph: a forward pass without backward holds nothing once its outputs are gone") {
  Variable w(Tensor::full({16, 16}, 0.01), true);
  Variable x(Tensor::full({8, 16}, 1.0));
  const size_t nodes = recorded_nodes(), bytes = live_tensor_bytes();
  {
    Variable y = mean(tanh(matmul(x, w)));
    CHECK(recorded_nodes() == nodes + 3);
  }
  CHECK(recorded_nodes() == nodes);
  CHECK(live_tensor_bytes() == bytes);
}

TEST_CASE("graph: a value no backward closure reads is freed during the forward pass") {
  Variable x(Tensor::full({1000}, 1.0), true);
  const size_t bytes = live_tensor_bytes();
  // x * 2 sends its gradient without reading its output, and relu's closure keeps its own output (shared with
  // r's value): only one new tensor of 1000 floats stays alive, not two.
  Variable r = relu(x * 2.0);
  CHECK(live_tensor_bytes() - bytes < 2 * 4000);
  CHECK(live_tensor_bytes() - bytes >= 4000);
  sum(r).backward();
  CHECK(x.grad().flat(0) == 2.0);
}

TEST_CASE("graph: dropping the output of a very long chain frees it without deep recursion") {
  Variable x(Tensor::full({4}, 1.0), true);
  const size_t nodes = recorded_nodes();
  {
    Variable y = x;
    for (int i = 0; i < 300000; ++i) y = y * 1.0;
    CHECK(recorded_nodes() == nodes + 300000);
  }
  CHECK(recorded_nodes() == nodes);
}

TEST_CASE("graph: backward through a long chain runs and frees it") {
  Variable x(Tensor::full({4}, 1.0), true);
  const size_t nodes = recorded_nodes();
  Variable y = x;
  for (int i = 0; i < 100000; ++i) y = y + 0.0;
  sum(y).backward();
  CHECK(x.grad().flat(3) == 1.0);
  CHECK(recorded_nodes() == nodes);
}

TEST_CASE("graph: backward through a part another backward consumed is a clear error, not a lost gradient") {
  Variable x(Tensor::from({1.0, 2.0}, {2}, DType::F64), true);
  Variable h = x * 3.0;
  Variable a = sum(h), b = sum(h * h), c = sum(x * x);
  a.backward();
  CHECK(x.grad().flat(0) == 3.0);
  CHECK_THROWS_WITH_AS(b.backward(), doctest::Contains("already consumed"), std::logic_error);
  x.zero_grad();
  c.backward();  // a graph of its own, untouched by a's backward: d/dx sum(x^2) = 2x
  CHECK(x.grad().flat(1) == 4.0);
}
