// sum and mean, over all elements or one axis.
#include "autograd/kernels/deterministic_sums.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace tg {

namespace {
int normalize_axis(int axis, int rank, const char* op, const Shape& shape) {
  const int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw std::invalid_argument(std::string(op) + ": axis " + std::to_string(axis) + " out of range for shape " +
                                shape_str(shape));
  return a;
}

Variable scaled_total(const char* op, const Variable& x, double scale) {
  Tensor y = Tensor::empty(Shape{}, x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    const T* p = x.value().data<T>();
    y.data<T>()[0] = static_cast<T>(scale * kernels::ordered_sum(x.numel(), [p](int64_t i) { return p[i]; }));
  });
  return record(op, std::move(y), {&x}, [xn = x.node_ptr(), shape = x.shape(), scale](const Tensor& g) {
    xn->accumulate_grad(Tensor::full(shape, g.item() * scale, g.dtype()));
  });
}

// x viewed as [outer, n, inner], reduced over the middle axis.
Variable scaled_axis_sum(const char* op, const Variable& x, int axis, bool keepdims, bool average) {
  const int a = normalize_axis(axis, x.rank(), op, x.shape());
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < a; ++i) outer *= x.dim(i);
  for (int i = a + 1; i < x.rank(); ++i) inner *= x.dim(i);
  const int64_t n = x.dim(a);
  const double scale = average ? 1.0 / static_cast<double>(std::max<int64_t>(n, 1)) : 1.0;
  Shape out_shape = x.shape();
  if (keepdims) out_shape[a] = 1; else out_shape.erase(out_shape.begin() + a);
  Tensor y(out_shape, x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    const T* px = x.value().data<T>();
    T* py = y.data<T>();
#pragma omp parallel for if (x.numel() > kParallelThreshold) schedule(static)
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < n; ++k)
        for (int64_t i = 0; i < inner; ++i) py[o * inner + i] += px[(o * n + k) * inner + i];
    for (T& v : y.span<T>()) v = static_cast<T>(v * scale);
  });
  return record(op, std::move(y), {&x}, [xn = x.node_ptr(), shape = x.shape(), outer, n, inner, scale](const Tensor& g) {
    Tensor gx = Tensor::empty(shape, g.dtype());
    dispatch(g.dtype(), [&]<class T>() {
      const T* pg = g.data<T>();
      T* out = gx.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < n; ++k)
          for (int64_t i = 0; i < inner; ++i) out[(o * n + k) * inner + i] = static_cast<T>(pg[o * inner + i] * scale);
    });
    xn->accumulate_grad(std::move(gx));
  });
}
}  // namespace

Variable sum(const Variable& x) { return scaled_total("sum", x, 1.0); }
Variable mean(const Variable& x) {
  return scaled_total("mean", x, 1.0 / static_cast<double>(std::max<int64_t>(x.numel(), 1)));
}
Variable sum(const Variable& x, int axis, bool keepdims) { return scaled_axis_sum("sum", x, axis, keepdims, false); }
Variable mean(const Variable& x, int axis, bool keepdims) { return scaled_axis_sum("mean", x, axis, keepdims, true); }

Variable reshape(const Variable& x, Shape shape) {
  Tensor y = x.value().reshape(std::move(shape));
  return record("reshape", std::move(y), {&x}, [xn = x.node_ptr(), shape = x.shape()](const Tensor& g) {
    xn->accumulate_grad(g.reshape(shape).clone());
  });
}

}  // namespace tg
