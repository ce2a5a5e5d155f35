// softmax and log_softmax over the last axis, each computed stably (the row maximum is subtracted first, in
// kernels/softmax_row.h). Both are row-wise: one loop over rows (each_row) serves both forwards and backwards.
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

// row(in, out, c) for each of the rows of c entries of `in`, writing `out`; rows are independent.
template <class Row>
Tensor each_row(const Tensor& in, int64_t rows, int64_t c, Row&& row) {
  Tensor out = Tensor::empty(in.shape(), in.dtype());
  dispatch(in.dtype(), [&]<class T>() {
    const T* pi = in.data<T>();
    T* po = out.data<T>();
#pragma omp parallel for if (rows * c > kParallelThreshold) schedule(static)
    for (int64_t r = 0; r < rows; ++r) row(pi + r * c, po + r * c, c);
  });
  return out;
}

// The same for a backward pass that also reads the forward's output y, row by row.
template <class Row>
Tensor each_row(const Tensor& g, const Tensor& y, int64_t rows, int64_t c, Row&& row) {
  Tensor gx = Tensor::empty(g.shape(), g.dtype());
  dispatch(g.dtype(), [&]<class T>() {
    const T* pg = g.data<T>();
    const T* py = y.data<T>();
    T* out = gx.data<T>();
#pragma omp parallel for if (rows * c > kParallelThreshold) schedule(static)
    for (int64_t r = 0; r < rows; ++r) row(pg + r * c, py + r * c, out + r * c, c);
  });
  return gx;
}
}  // namespace

Variable softmax(const Variable& x) {
  const int64_t rows = rows_of(x, "softmax"), c = x.dim(-1);
  Tensor y = each_row(x.value(), rows, c, []<class T>(const T* in, T* out, int64_t n) {
    const T s = kernels::row_exp_sum<T>(in, n, out).sum;
    for (int64_t j = 0; j < n; ++j) out[j] /= s;
  });
  return record("softmax", y, {&x}, [xn = x.node_ptr(), y, rows, c](const Tensor& g) {
    // dx = y * (g - sum(g * y)) per row.
    xn->accumulate_grad(each_row(g, y, rows, c, []<class T>(const T* gr, const T* yr, T* out, int64_t n) {
      T dot = 0;
      for (int64_t j = 0; j < n; ++j) dot += gr[j] * yr[j];
      for (int64_t j = 0; j < n; ++j) out[j] = yr[j] * (gr[j] - dot);
    }));
  });
}

Variable log_softmax(const Variable& x) {
  const int64_t rows = rows_of(x, "log_softmax"), c = x.dim(-1);
  Tensor y = each_row(x.value(), rows, c, []<class T>(const T* in, T* out, int64_t n) {
    const T lse = kernels::row_exp_sum<T>(in, n).log_sum_exp();
    for (int64_t j = 0; j < n; ++j) out[j] = in[j] - lse;
  });
  return record("log_softmax", y, {&x}, [xn = x.node_ptr(), y, rows, c](const Tensor& g) {
    // dx = g - softmax * sum(g) per row.
    xn->accumulate_grad(each_row(g, y, rows, c, []<class T>(const T* gr, const T* yr, T* out, int64_t n) {
      T total = 0;
      for (int64_t j = 0; j < n; ++j) total += gr[j];
      for (int64_t j = 0; j < n; ++j) out[j] = gr[j] - std::exp(yr[j]) * total;
    }));
  });
}

}  // namespace tg
