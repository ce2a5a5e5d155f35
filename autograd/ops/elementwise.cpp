// add, sub, mul, div (with suffix broadcasting), scalar add/mul, neg.
#include <cmath>

#include "autograd/kernels/deterministic_sums.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace tg {

namespace {

// Shape rule: equal shapes, or one operand's shape is a suffix of the other's, or one has a single element.
// Element i of the output then reads element (i mod numel) of the smaller operand.
Shape broadcast_shape(const char* op, const Shape& a, const Shape& b) {
  auto is_suffix = [](const Shape& small, const Shape& big) {
    if (small.size() > big.size()) return false;
    return std::equal(small.begin(), small.end(), big.end() - static_cast<std::ptrdiff_t>(small.size()));
  };
  if (a == b) return a;
  if (shape_numel(b) == 1 || is_suffix(b, a)) return a;
  if (shape_numel(a) == 1 || is_suffix(a, b)) return b;
  throw std::invalid_argument(std::string(op) + ": cannot broadcast shapes " + shape_str(a) + " and " +
                              shape_str(b) + " (one must equal the other, be a suffix of it, or have one element)");
}

void check_dtypes(const char* op, const Variable& a, const Variable& b) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(std::string(op) + ": operands of dtype " + dtype_name(a.dtype()) + " and " +
                                dtype_name(b.dtype()));
}

// Sums a gradient of the output's shape down to an operand's (broadcast) shape.
Tensor reduce_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  Tensor out = Tensor::empty(shape, g.dtype());
  const int64_t cols = out.numel();
  dispatch(g.dtype(), [&]<class T>() { kernels::column_sums(g.data<T>(), g.numel() / cols, cols, out.data<T>()); });
  return out;
}

// out[i] = f(a[i mod na], b[i mod nb]).
template <class T, class F>
void binary_map(const T* a, int64_t na, const T* b, int64_t nb, T* out, int64_t n, F f) {
  if (na == n && nb == n) {
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  } else if (na == n) {
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t r = 0; r < n / nb; ++r)
      for (int64_t j = 0; j < nb; ++j) out[r * nb + j] = f(a[r * nb + j], b[j]);
  } else {
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t r = 0; r < n / na; ++r)
      for (int64_t j = 0; j < na; ++j) out[r * na + j] = f(a[j], b[r * na + j]);
  }
}

template <class F>
Tensor binary_forward(const char* op, const Variable& a, const Variable& b, F f) {
  check_dtypes(op, a, b);
  Tensor out = Tensor::empty(broadcast_shape(op, a.shape(), b.shape()), a.dtype());
  dispatch(a.dtype(), [&]<class T>() {
    binary_map(a.value().data<T>(), a.numel(), b.value().data<T>(), b.numel(), out.data<T>(), out.numel(),
               [&](T x, T y) { return static_cast<T>(f(x, y)); });
  });
  return out;
}

// The gradient with respect to one operand: g * df (computed at full size), reduced to the operand's shape.
template <class F>
Tensor partial_grad(const Tensor& g, const Variable& a, const Variable& b, F df) {
  Tensor full = Tensor::empty(g.shape(), g.dtype());
  dispatch(g.dtype(), [&]<class T>() {
    const T* pa = a.value().data<T>();
    const T* pb = b.value().data<T>();
    const T* pg = g.data<T>();
    T* out = full.data<T>();
    const int64_t n = g.numel(), na = a.numel(), nb = b.numel();
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(pg[i] * df(pa[i % na], pb[i % nb]));
  });
  return full;
}

}  // namespace

Variable add(const Variable& a, const Variable& b) {
  Tensor y = binary_forward("add", a, b, [](auto x, auto z) { return x + z; });
  return record("add", std::move(y), {&a, &b},
                [an = a.node_ptr(), bn = b.node_ptr(), sa = a.shape(), sb = b.shape()](const Tensor& g) {
    if (an->requires_grad) an->accumulate_grad(reduce_to(g, sa).clone());
    if (bn->requires_grad) bn->accumulate_grad(reduce_to(g, sb).clone());
  });
}

Variable sub(const Variable& a, const Variable& b) {
  Tensor y = binary_forward("sub", a, b, [](auto x, auto z) { return x - z; });
  return record("sub", std::move(y), {&a, &b},
                [an = a.node_ptr(), bn = b.node_ptr(), sa = a.shape(), sb = b.shape()](const Tensor& g) {
    if (an->requires_grad) an->accumulate_grad(reduce_to(g, sa).clone());
    if (bn->requires_grad) {
      Tensor gb = reduce_to(g, sb).clone();
      dispatch(gb.dtype(), [&]<class T>() { for (T& v : gb.span<T>()) v = -v; });
      bn->accumulate_grad(std::move(gb));
    }
  });
}

Variable mul(const Variable& a, const Variable& b) {
  Tensor y = binary_forward("mul", a, b, [](auto x, auto z) { return x * z; });
  return record("mul", std::move(y), {&a, &b}, [a, b](const Tensor& g) {
    if (a.requires_grad())
      a.node()->accumulate_grad(reduce_to(partial_grad(g, a, b, [](auto, auto z) { return z; }), a.shape()).clone());
    if (b.requires_grad())
      b.node()->accumulate_grad(reduce_to(partial_grad(g, a, b, [](auto x, auto) { return x; }), b.shape()).clone());
  });
}

Variable div(const Variable& a, const Variable& b) {
  Tensor y = binary_forward("div", a, b, [](auto x, auto z) { return x / z; });
  return record("div", std::move(y), {&a, &b}, [a, b](const Tensor& g) {
    if (a.requires_grad())
      a.node()->accumulate_grad(
          reduce_to(partial_grad(g, a, b, [](auto, auto z) { return 1 / z; }), a.shape()).clone());
    if (b.requires_grad())
      b.node()->accumulate_grad(
          reduce_to(partial_grad(g, a, b, [](auto x, auto z) { return -x / (z * z); }), b.shape()).clone());
  });
}

namespace {
// y = scale * x + shift, the shared shape of scalar add, scalar mul and neg.
Variable affine(const char* op, const Variable& x, double scale, double shift) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    const T* px = x.value().data<T>();
    T* py = y.data<T>();
    const T s = static_cast<T>(scale), t = static_cast<T>(shift);
    const int64_t n = y.numel();
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) py[i] = s * px[i] + t;
  });
  return record(op, std::move(y), {&x}, [xn = x.node_ptr(), scale](const Tensor& g) {
    Tensor gx = Tensor::empty(g.shape(), g.dtype());
    dispatch(g.dtype(), [&]<class T>() {
      const T* pg = g.data<T>();
      T* out = gx.data<T>();
      const T s = static_cast<T>(scale);
      const int64_t n = g.numel();
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
      for (int64_t i = 0; i < n; ++i) out[i] = s * pg[i];
    });
    xn->accumulate_grad(std::move(gx));
  });
}
}  // namespace

Variable add(const Variable& a, double s) { return affine("add_scalar", a, 1.0, s); }
Variable mul(const Variable& a, double s) { return affine("mul_scalar", a, s, 0.0); }
Variable neg(const Variable& a) { return affine("neg", a, -1.0, 0.0); }

}  // namespace tg
