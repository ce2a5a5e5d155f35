// Forward and backward time of one 3x3, 64 -> 64, 'same' conv2d (with bias) on a 1x256x256x64 float32 input, the
// U-Net's widest full-resolution layer. Prints the median of several runs and the GFLOP/s it corresponds to
// (2 FLOPs per multiply-add; backward = input gradient + kernel gradient = twice the forward's work).
//
//   bench_conv_bench [runs] [height/width] [channels]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "autograd/autograd.h"

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 7;
  const int64_t size = argc > 2 ? std::atoll(argv[2]) : 256;
  const int64_t channels = argc > 3 ? std::atoll(argv[3]) : 64;

  tg::Rng rng(42);
  tg::Tensor x_value({1, size, size, channels});
  tg::Tensor w_value({3, 3, channels, channels});
  tg::Tensor gy({1, size, size, channels});
  rng.fill_uniform(x_value, -1, 1);
  rng.fill_uniform(w_value, -0.1, 0.1);
  rng.fill_uniform(gy, -1, 1);
  tg::Variable x(x_value, true), w(w_value, true), b(tg::Tensor({channels}), true);
  tg::Conv2DOptions options;
  options.padding = tg::Padding::Same;

  std::vector<double> forward_ms, backward_ms;
  for (int r = 0; r <= runs; ++r) {  // run 0 warms up caches and allocator
    x.zero_grad(), w.zero_grad(), b.zero_grad();
    auto t0 = std::chrono::steady_clock::now();
    tg::Variable y = tg::conv2d(x, w, b, options);
    const double f = ms_since(t0);
    t0 = std::chrono::steady_clock::now();
    y.backward(gy);
    const double bwd = ms_since(t0);
    if (r > 0) forward_ms.push_back(f), backward_ms.push_back(bwd);
  }
  const double flops = 2.0 * static_cast<double>(size * size * channels * channels * 9);
  const double f = median(forward_ms), bwd = median(backward_ms);
  std::printf("conv2d 3x3 %lld->%lld same on 1x%lldx%lldx%lld float32, %d threads, median of %d runs\n",
              static_cast<long long>(channels), static_cast<long long>(channels), static_cast<long long>(size),
              static_cast<long long>(size), static_cast<long long>(channels), omp_get_max_threads(), runs);
  std::printf("forward  %8.2f ms  %6.1f GFLOP/s\n", f, flops / f * 1e-6);
  std::printf("backward %8.2f ms  %6.1f GFLOP/s\n", bwd, 2 * flops / bwd * 1e-6);
  std::printf("total    %8.2f ms  %6.1f GFLOP/s\n", f + bwd, 3 * flops / (f + bwd) * 1e-6);
  return 0;
}
