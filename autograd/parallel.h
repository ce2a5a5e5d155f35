// When tapegrad's loops run in parallel, and on how many threads.
//
// Results are bit-identical for any thread count: work is split the same way whatever the number of threads, and
// every reduction adds a fixed number of chunks in a fixed order (kernels/deterministic_sums.h, kernels/tiled_gemm.h),
// so exact resume does not depend on the machine's core count.
#pragma once
#include <cstdint>

namespace tg {

// Loops over fewer elements than this run on the calling thread alone: below it, starting the OpenMP team costs
// more than the loop. Every `#pragma omp parallel for if (n > kParallelThreshold)` uses it.
inline constexpr int64_t kParallelThreshold = 65536;

// The number of threads parallel loops use (OpenMP's, so OMP_NUM_THREADS by default). Throws unless n >= 1.
void set_num_threads(int n);
int num_threads();

}  // namespace tg
