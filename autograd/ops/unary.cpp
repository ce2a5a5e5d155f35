// exp, log, relu, sigmoid, tanh: y = f(x). dy/dx is written in the output wherever it can be (relu from y's
// sign, exp, sigmoid, tanh from y), so that the backward closure keeps y, which the next op usually keeps anyway,
// and not x: a convolution's pre-activation output is freed as soon as relu has read it.
#include <algorithm>
#include <cmath>

#include "autograd/kernels/deterministic_sums.h"
#include "autograd/ops.h"
#include "autograd/ops/activation_gradients.h"
#include "autograd/parallel.h"

namespace tg {

namespace {
template <class F>
Tensor map(const Tensor& x, F f) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const int64_t n = y.numel();
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) py[i] = f(px[i]);
  });
  return y;
}

// gx = g * d(s) elementwise, where s is the saved tensor the derivative is written in.
template <class D>
Tensor times_derivative(const Tensor& g, const Tensor& saved, D d) {
  Tensor gx = Tensor::empty(g.shape(), g.dtype());
  dispatch(g.dtype(), [&]<class T>() {
    const T* ps = saved.data<T>();
    const T* pg = g.data<T>();
    T* out = gx.data<T>();
    const int64_t n = g.numel();
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = pg[i] * d(ps[i]);
  });
  return gx;
}

// dy/dx of relu from its output y.
constexpr auto relu_derivative = [](auto y) { return y > 0 ? decltype(y)(1) : decltype(y)(0); };

// y = f(x) with dy/dx = dy(y): the closure keeps y and only x's node.
template <class F, class DY>
Variable unary_from_output(const char* op, const Variable& x, F f, DY dy) {
  Tensor y = map(x.value(), f);
  return record(op, y, {&x}, [xn = x.node_ptr(), y, dy](const Tensor& g) {
    xn->accumulate_grad(times_derivative(g, y, dy));
  });
}

// y = f(x) with dy/dx = dx(x): the closure keeps x.
template <class F, class DX>
Variable unary_from_input(const char* op, const Variable& x, F f, DX dx) {
  return record(op, map(x.value(), f), {&x}, [x, dx](const Tensor& g) {
    x.node()->accumulate_grad(times_derivative(g, x.value(), dx));
  });
}
}  // namespace

Variable exp(const Variable& x) {
  return unary_from_output("exp", x, [](auto v) { return std::exp(v); }, [](auto y) { return y; });
}

Variable log(const Variable& x) {
  return unary_from_input("log", x, [](auto v) { return std::log(v); }, [](auto v) { return 1 / v; });
}

Variable relu(const Variable& x) {
  // The derivative at 0 is taken as 0, as TensorFlow and PyTorch do; NaN passes through (as there) so that a
  // corrupt input still shows up in the loss. y > 0 exactly where x > 0, so the output's sign gives it.
  return unary_from_output("relu", x, [](auto v) { return v < 0 ? decltype(v)(0) : v; }, relu_derivative);
}

Tensor relu_gradient(const Tensor& g, const Tensor& y) { return times_derivative(g, y, relu_derivative); }

Tensor conv_output_gradient(const Tensor& gy, const Tensor& y, bool relu, Tensor* db) {
  if (!db) return relu ? relu_gradient(gy, y) : gy;
  const int64_t channels = gy.shape().back(), rows = gy.numel() / std::max<int64_t>(channels, 1);
  *db = Tensor::empty({channels}, gy.dtype());
  if (!relu) {
    dispatch(gy.dtype(), [&]<class T>() { kernels::column_sums(gy.data<T>(), rows, channels, db->data<T>()); });
    return gy;
  }
  Tensor g = Tensor::empty(gy.shape(), gy.dtype());
  dispatch(gy.dtype(), [&]<class T>() {
    const T* pg = gy.data<T>();
    const T* py = y.data<T>();
    T* out = g.data<T>();
    kernels::column_sums_of(rows, channels, db->data<T>(), [=](int64_t r, int64_t j) {
      const int64_t i = r * channels + j;
      const T v = pg[i] * relu_derivative(py[i]);
      out[i] = v;
      return v;
    });
  });
  return g;
}

Variable sigmoid(const Variable& x) {
  // Written so that neither branch overflows: exp is only taken of a non-positive number.
  return unary_from_output(
      "sigmoid", x,
      [](auto v) {
        using T = decltype(v);
        if (v >= 0) return T(1) / (T(1) + std::exp(-v));
        const T e = std::exp(v);
        return e / (T(1) + e);
      },
      [](auto y) { return y * (1 - y); });
}

Variable tanh(const Variable& x) {
  return unary_from_output("tanh", x, [](auto v) { return std::tanh(v); }, [](auto y) { return 1 - y * y; });
}

}  // namespace tg
