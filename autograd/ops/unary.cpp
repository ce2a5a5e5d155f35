// exp, log, relu, sigmoid, tanh: y = f(x), dy/dx from x and y.
#include <cmath>

#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace tg {

namespace {
// f(x) gives the value; df(x, y) the derivative, written in whichever of x or y is cheaper.
template <class F, class DF>
Variable unary(const char* op, const Variable& x, F f, DF df) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    const T* px = x.value().data<T>();
    T* py = y.data<T>();
    const int64_t n = y.numel();
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) py[i] = f(px[i]);
  });
  return record(op, y, {&x}, [x, y, df](const Tensor& g) {
    Tensor gx = Tensor::empty(g.shape(), g.dtype());
    dispatch(g.dtype(), [&]<class T>() {
      const T* px = x.value().data<T>();
      const T* py = y.data<T>();
      const T* pg = g.data<T>();
      T* out = gx.data<T>();
      const int64_t n = g.numel();
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
      for (int64_t i = 0; i < n; ++i) out[i] = pg[i] * df(px[i], py[i]);
    });
    x.node()->accumulate_grad(std::move(gx));
  });
}
}  // namespace

Variable exp(const Variable& x) {
  return unary("exp", x, [](auto v) { return std::exp(v); }, [](auto, auto y) { return y; });
}

Variable log(const Variable& x) {
  return unary("log", x, [](auto v) { return std::log(v); }, [](auto v, auto) { return 1 / v; });
}

Variable relu(const Variable& x) {
  // The derivative at 0 is taken as 0, as TensorFlow and PyTorch do; NaN passes through (as there) so that a
  // corrupt input still shows up in the loss.
  return unary("relu", x, [](auto v) { return v < 0 ? decltype(v)(0) : v; },
               [](auto v, auto) { return v > 0 ? decltype(v)(1) : decltype(v)(0); });
}

Variable sigmoid(const Variable& x) {
  // Written so that neither branch overflows: exp is only taken of a non-positive number.
  return unary(
      "sigmoid", x,
      [](auto v) {
        using T = decltype(v);
        if (v >= 0) return T(1) / (T(1) + std::exp(-v));
        const T e = std::exp(v);
        return e / (T(1) + e);
      },
      [](auto, auto y) { return y * (1 - y); });
}

Variable tanh(const Variable& x) {
  return unary("tanh", x, [](auto v) { return std::tanh(v); }, [](auto, auto y) { return 1 - y * y; });
}

}  // namespace tg
