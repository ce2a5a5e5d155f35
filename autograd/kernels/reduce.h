// Deterministic reductions: the work is cut into a fixed number of chunks (not one per thread), each chunk is
// summed in order, then the chunk sums are added in order. The result is bit-identical for any thread count,
// which exact resume of a training run depends on.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace tg::kernels {

constexpr int64_t kReduceChunks = 32;

// out[j] = sum over r of x[r * cols + j], for an x of [rows, cols] (bias and BN-style column sums).
template <class T>
void column_sums(const T* x, int64_t rows, int64_t cols, T* out) {
  const int64_t chunks = std::min<int64_t>(kReduceChunks, std::max<int64_t>(rows, 1));
  std::vector<T> partial(static_cast<size_t>(chunks * cols), T(0));
#pragma omp parallel for schedule(static) if (rows * cols > 32768)
  for (int64_t c = 0; c < chunks; ++c) {
    T* acc = partial.data() + c * cols;
    const int64_t r0 = rows * c / chunks, r1 = rows * (c + 1) / chunks;
    for (int64_t r = r0; r < r1; ++r) {
      const T* row = x + r * cols;
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) acc[j] += row[j];
    }
  }
  std::fill(out, out + cols, T(0));
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t j = 0; j < cols; ++j) out[j] += partial[c * cols + j];
}

// Sum of all n elements of f(i), in a fixed order of chunks. Accumulates in double.
template <class F>
double ordered_sum(int64_t n, F&& f) {
  const int64_t chunks = std::min<int64_t>(kReduceChunks, std::max<int64_t>(n, 1));
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
#pragma omp parallel for schedule(static) if (n > 32768)
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

}  // namespace tg::kernels
