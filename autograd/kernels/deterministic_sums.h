// Deterministic sums, the reductions every op uses: the work is cut into a fixed number of chunks (not one per
// thread), each chunk is summed in order, then the chunk sums are added in order. The result is bit-identical for
// any thread count, which exact resume of a training run depends on. (The differentiable sum and mean ops are
// autograd/ops/reduce.cpp.)
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "autograd/parallel.h"

namespace tg::kernels {

constexpr int64_t kReduceChunks = 32;
// Sums go parallel from half the elementwise threshold (the value they were written with; like any threshold it
// changes only the speed, never a sum's bits).
constexpr int64_t kSumParallelThreshold = kParallelThreshold / 2;

// out[j] = sum over r of value(r, j), for rows x cols values: value(r, j) may also write row r's own outputs (a pass
// that transforms a tensor and sums its columns at once). Chunks of rows, each summed in order, then added in order.
template <class T, class Value>
void column_sums_of(int64_t rows, int64_t cols, T* out, Value&& value) {
  const int64_t chunks = std::min<int64_t>(kReduceChunks, std::max<int64_t>(rows, 1));
  std::vector<T> partial(static_cast<size_t>(chunks * cols), T(0));
#pragma omp parallel for schedule(static) if (rows * cols > kSumParallelThreshold)
  for (int64_t c = 0; c < chunks; ++c) {
    T* acc = partial.data() + c * cols;
    const int64_t r0 = rows * c / chunks, r1 = rows * (c + 1) / chunks;
    for (int64_t r = r0; r < r1; ++r) {
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) acc[j] += value(r, j);
    }
  }
  std::fill(out, out + cols, T(0));
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t j = 0; j < cols; ++j) out[j] += partial[c * cols + j];
}

// out[j] = sum over r of x[r * cols + j], for an x of [rows, cols] (bias and BN-style column sums).
template <class T>
void column_sums(const T* x, int64_t rows, int64_t cols, T* out) {
  column_sums_of(rows, cols, out, [x, cols](int64_t r, int64_t j) { return x[r * cols + j]; });
}

// Sum of all n elements of f(i), in a fixed order of chunks. Accumulates in double.
template <class F>
double ordered_sum(int64_t n, F&& f) {
  const int64_t chunks = std::min<int64_t>(kReduceChunks, std::max<int64_t>(n, 1));
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
#pragma omp parallel for schedule(static) if (n > kSumParallelThreshold)
  for (int64_t c = 0; c < chunks; ++c) {
    double acc = 0.0;
    const int64_t i0 = n * c / chunks, i1 = n * (c + 1) / chunks;
    for (int64_t i = i0; i < i1; ++i) acc += f(i);
    partial[c] = acc;
  }
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

// Several deterministic sums at once, accumulated in double: the per-channel statistics of batch norm, the
// per-class sums of soft Dice, a loss and its pixel count.
// out[k] = sum over rows r of what add_row(r, acc) adds into acc[k], for k in [0, width).
// add_row must only add into acc; it may also write row r's own outputs (each row is visited once).
template <class F>
void chunked_sums(int64_t rows, int64_t width, double* out, F&& add_row, int64_t work_per_row = 1) {
  const int64_t chunks = std::min<int64_t>(kReduceChunks, std::max<int64_t>(rows, 1));
  std::vector<double> partial(static_cast<size_t>(chunks * width), 0.0);
#pragma omp parallel for schedule(static) if (rows * std::max<int64_t>(work_per_row, width) > kSumParallelThreshold)
  for (int64_t c = 0; c < chunks; ++c) {
    double* acc = partial.data() + c * width;
    const int64_t r0 = rows * c / chunks, r1 = rows * (c + 1) / chunks;
    for (int64_t r = r0; r < r1; ++r) add_row(r, acc);
  }
  std::fill(out, out + width, 0.0);
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t k = 0; k < width; ++k) out[k] += partial[c * width + k];
}

}  // namespace tg::kernels
