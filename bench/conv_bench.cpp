// Per-layer GFLOP/s of every convolution shape of the U-Net (layers/zoo.cpp: depth 4, 3x3 'same' blocks, 2x2 'same'
// convolutions after each upsampling, a 1x1 output layer), float32, for the three passes of a training step:
// forward, input gradient and kernel gradient, each timed on its own through the kernels the ops call
// (autograd/kernels/conv_gemm.h). Prints the median of several runs per pass; 2 FLOPs per multiply-add.
//
//   bench_conv_bench [--filters 64] [--batch 1] [--size 256] [--classes 2] [--runs 5] [--threads N] [--cpu-time 1]
// --cpu-time 1 times the process's CPU time instead of the wall clock: on a machine shared with other jobs, with
// --threads 1 (and OMP_WAIT_POLICY=PASSIVE), that counts only this program's work.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/kernels/conv_gemm.h"

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct ConvShape {
  std::string name;
  tg::kernels::ConvGeometry g;
};

tg::kernels::ConvGeometry same_conv(int64_t batch, int64_t size, int64_t cin, int64_t cout, int64_t kernel) {
  tg::kernels::ConvGeometry g;
  g.batch = batch, g.in_h = g.in_w = g.out_h = g.out_w = size, g.in_c = cin, g.out_c = cout;
  g.kernel_h = g.kernel_w = kernel;
  g.pad_top = g.pad_left = (kernel - 1) / 2;  // TensorFlow's 'same': the extra row/column of padding goes last
  return g;
}

std::vector<ConvShape> unet_shapes(int64_t f, int64_t batch, int64_t size, int64_t classes) {
  std::vector<ConvShape> shapes;
  constexpr int depth = 4;
  for (int level = 0; level <= depth; ++level) {
    const int64_t s = size >> level, out = f << level, in = level == 0 ? 1 : f << (level - 1);
    const std::string where = level == depth ? "bottom" : "down" + std::to_string(level);
    shapes.push_back({where + " 3x3 a", same_conv(batch, s, in, out, 3)});
    shapes.push_back({where + " 3x3 b", same_conv(batch, s, out, out, 3)});
  }
  for (int level = depth - 1; level >= 0; --level) {
    const int64_t s = size >> level, out = f << level;
    shapes.push_back({"up" + std::to_string(level) + " 2x2", same_conv(batch, s, 2 * out, out, 2)});
    shapes.push_back({"up" + std::to_string(level) + " 3x3 a", same_conv(batch, s, 2 * out, out, 3)});
    shapes.push_back({"up" + std::to_string(level) + " 3x3 b", same_conv(batch, s, out, out, 3)});
  }
  shapes.push_back({"output 1x1", same_conv(batch, size, f, classes, 1)});
  return shapes;
}

bool use_cpu_time = false;
double now_ms() {
  if (!use_cpu_time)
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

template <class F>
double median_ms(int runs, F&& pass) {
  std::vector<double> ms;
  for (int r = 0; r <= runs; ++r) {  // run 0 warms caches and the allocator
    const double t0 = now_ms();
    pass();
    if (r > 0) ms.push_back(now_ms() - t0);
  }
  return median(ms);
}
}  // namespace

int main(int argc, char** argv) {
  int64_t filters = 64, batch = 1, size = 256, classes = 2;
  int runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const long long v = std::atoll(argv[i + 1]);
    if (flag == "--filters") filters = v;
    else if (flag == "--batch") batch = v;
    else if (flag == "--size") size = v;
    else if (flag == "--classes") classes = v;
    else if (flag == "--runs") runs = static_cast<int>(v);
    else if (flag == "--threads") omp_set_num_threads(static_cast<int>(v));
    else if (flag == "--cpu-time") use_cpu_time = v != 0;
    else {
      std::fprintf(stderr, "bench_conv_bench: unknown flag %s (see the comment at the top of bench/conv_bench.cpp)\n",
                   flag.c_str());
      return 2;
    }
  }
  if (filters < 1 || batch < 1 || size < 16 || size % 16 || runs < 1) {
    std::fprintf(stderr, "bench_conv_bench: needs filters, batch, runs >= 1 and a size divisible by 16\n");
    return 2;
  }
  std::printf("U-Net convolutions, filters %lld, batch %lld, %lldx%lld, float32, %d threads, median of %d runs (%s)\n",
              static_cast<long long>(filters), static_cast<long long>(batch), static_cast<long long>(size),
              static_cast<long long>(size), omp_get_max_threads(), runs, use_cpu_time ? "CPU time" : "wall clock");
  std::printf("%-14s %-22s %9s %9s %9s %9s %9s %9s\n", "layer", "in -> out", "fwd ms", "fwd GF/s", "dx ms", "dx GF/s",
              "dw ms", "dw GF/s");
  tg::Rng rng(42);
  double total_ms = 0, total_flops = 0;
  for (const ConvShape& shape : unet_shapes(filters, batch, size, classes)) {
    const tg::kernels::ConvGeometry& g = shape.g;
    tg::Tensor x({g.batch, g.in_h, g.in_w, g.in_c}), w({g.kernel_h, g.kernel_w, g.in_c, g.out_c});
    tg::Tensor y({g.batch, g.out_h, g.out_w, g.out_c}), dx(x.shape()), dw(w.shape());
    rng.fill_uniform(x, -1, 1), rng.fill_uniform(w, -0.1, 0.1), rng.fill_uniform(y, -1, 1);
    const float *xp = x.data<float>(), *wp = w.data<float>();
    float *yp = y.data<float>(), *dxp = dx.data<float>(), *dwp = dw.data<float>();
    const double fwd = median_ms(runs, [&] { tg::kernels::conv_forward(xp, wp, g, yp); });
    const double dxs = median_ms(runs, [&] { tg::kernels::conv_input_grad<float>(yp, wp, g, dxp); });
    const double dws = median_ms(runs, [&] { tg::kernels::conv_kernel_grad<float>(xp, yp, g, dwp); });
    const double flops = 2.0 * static_cast<double>(g.lines() * g.out_w * g.out_c * g.patch());
    char io[64];
    std::snprintf(io, sizeof io, "%lldx%lldx%lld -> %lld", static_cast<long long>(g.in_h), static_cast<long long>(g.in_w),
                  static_cast<long long>(g.in_c), static_cast<long long>(g.out_c));
    std::printf("%-14s %-22s %9.2f %9.1f %9.2f %9.1f %9.2f %9.1f\n", shape.name.c_str(), io, fwd, flops / fwd * 1e-6,
                dxs, flops / dxs * 1e-6, dws, flops / dws * 1e-6);
    total_ms += fwd + dxs + dws, total_flops += 3 * flops;
  }
  std::printf("%-14s %-22s %9.1f ms for all three passes of every layer, %.1f GFLOP/s\n", "total", "", total_ms,
              total_flops / total_ms * 1e-6);
  return 0;
}
