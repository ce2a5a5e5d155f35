// A custom op in user code: softplus(x) = log(1 + exp(x)), its forward and backward side by side,
// then checked against float64 finite differences with tg::gradcheck.
#include <cmath>
#include <cstdio>

#include "autograd/autograd.h"

tg::Variable softplus(const tg::Variable& x) {
  tg::Tensor y(x.shape(), x.dtype());
  tg::dispatch(x.dtype(), [&]<class T>() {
    const T* in = x.value().data<T>();
    T* out = y.data<T>();
    for (int64_t i = 0; i < y.numel(); ++i) out[i] = std::max(in[i], T(0)) + std::log1p(std::exp(-std::fabs(in[i])));
  });
  return tg::record("softplus", std::move(y), {&x}, [x](const tg::Tensor& g) {
    tg::Tensor gx(g.shape(), g.dtype());  // d softplus / dx = sigmoid(x)
    tg::dispatch(g.dtype(), [&]<class T>() {
      const T* in = x.value().data<T>();
      for (int64_t i = 0; i < g.numel(); ++i) gx.data<T>()[i] = g.data<T>()[i] / (T(1) + std::exp(-in[i]));
    });
    x.node()->accumulate_grad(std::move(gx));
  });
}

int main() {
  tg::Tensor x({2, 4, 4, 3}, tg::DType::F64);
  tg::Rng(7).fill_uniform(x, -3.0, 3.0);
  auto result = tg::gradcheck([](const std::vector<tg::Variable>& in) { return softplus(in[0]); }, {x});
  std::printf("softplus: %s\n", result.message.c_str());

  // The op in a tiny training loop: fit w so that mean(softplus(x * w)) reaches 1.
  tg::Variable w(tg::Tensor::full({3}, 0.1), true);
  tg::Variable xs(x.to(tg::DType::F32));
  for (int step = 0; step <= 50; ++step) {
    tg::Variable err = tg::mean(softplus(xs * w)) - 1.0;
    tg::Variable loss = err * err;
    loss.backward();
    if (step % 10 == 0) std::printf("step %2d  loss %.6f\n", step, loss.item());
    for (int64_t c = 0; c < 3; ++c) w.value().set_flat(c, w.value().flat(c) - 0.5 * w.grad().flat(c));
    w.zero_grad();
  }
  return result.ok ? 0 : 1;
}
