// softmax and log_softmax over the last axis, each computed stably (the row maximum is subtracted first).
#include <cmath>

#include "autograd/kernels/softmax_row.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace tg {

namespace {
int64_t rows_of(const Variable& x, const char* op) {
  if (x.rank() == 0) throw std::invalid_argument(std::string(op) + ": needs at least one axis, got a scalar");
  return x.numel() / std::max<int64_t>(x.dim(-1), 1);
}
}  // namespace

Variable softmax(const Variable& x) {
  const int64_t rows = rows_of(x, "softmax"), c = x.dim(-1);
  Tensor y(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    const T* px = x.value().data<T>();
    T* py = y.data<T>();
#pragma omp parallel for if (rows * c > kParallelThreshold) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      T* out = py + r * c;
      const T s = kernels::row_exp_sum<T>(px + r * c, c, out).sum;
      for (int64_t j = 0; j < c; ++j) out[j] /= s;
    }
  });
  return record("softmax", y, {&x}, [x, y, rows, c](const Tensor& g) {
    // dx = y * (g - sum(g * y)) per row.
    Tensor gx(g.shape(), g.dtype());
    dispatch(g.dtype(), [&]<class T>() {
      const T* py = y.data<T>();
      const T* pg = g.data<T>();
      T* out = gx.data<T>();
#pragma omp parallel for if (rows * c > kParallelThreshold) schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        T dot = 0;
        for (int64_t j = 0; j < c; ++j) dot += pg[r * c + j] * py[r * c + j];
        for (int64_t j = 0; j < c; ++j) out[r * c + j] = py[r * c + j] * (pg[r * c + j] - dot);
      }
    });
    x.node()->accumulate_grad(std::move(gx));
  });
}

Variable log_softmax(const Variable& x) {
  const int64_t rows = rows_of(x, "log_softmax"), c = x.dim(-1);
  Tensor y(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    const T* px = x.value().data<T>();
    T* py = y.data<T>();
#pragma omp parallel for if (rows * c > kParallelThreshold) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const T* in = px + r * c;
      const T lse = kernels::row_exp_sum<T>(in, c).log_sum_exp();
      for (int64_t j = 0; j < c; ++j) py[r * c + j] = in[j] - lse;
    }
  });
  return record("log_softmax", y, {&x}, [x, y, rows, c](const Tensor& g) {
    // dx = g - softmax * sum(g) per row.
    Tensor gx(g.shape(), g.dtype());
    dispatch(g.dtype(), [&]<class T>() {
      const T* py = y.data<T>();
      const T* pg = g.data<T>();
      T* out = gx.data<T>();
#pragma omp parallel for if (rows * c > kParallelThreshold) schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        T total = 0;
        for (int64_t j = 0; j < c; ++j) total += pg[r * c + j];
        for (int64_t j = 0; j < c; ++j) out[r * c + j] = pg[r * c + j] - std::exp(py[r * c + j]) * total;
      }
    });
    x.node()->accumulate_grad(std::move(gx));
  });
}

}  // namespace tg
