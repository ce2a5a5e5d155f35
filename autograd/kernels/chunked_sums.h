// Several deterministic sums at once, accumulated in double: the per-channel statistics of batch norm, the
// per-class sums of soft Dice, a loss and its pixel count. Rows are cut into a fixed number of chunks (as in
// reduce.h), so the result is bit-identical for any thread count.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "autograd/kernels/reduce.h"

namespace tg::kernels {

// out[k] = sum over rows r of what add_row(r, acc) adds into acc[k], for k in [0, width).
// add_row must only add into acc; it may also write row r's own outputs (each row is visited once).
template <class F>
void chunked_sums(int64_t rows, int64_t width, double* out, F&& add_row, int64_t work_per_row = 1) {
  const int64_t chunks = std::min<int64_t>(kReduceChunks, std::max<int64_t>(rows, 1));
  std::vector<double> partial(static_cast<size_t>(chunks * width), 0.0);
#pragma omp parallel for schedule(static) if (rows * std::max<int64_t>(work_per_row, width) > 32768)
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
