// The special convolution kernels (autograd/kernels/conv_special.h) against the float64 definition, in both of
// their builds (portable and AVX2 + FMA, where the CPU runs it), on odd sizes and channel counts that are not
// multiples of the vector width, with every epilogue; 1 and 2 threads bit-identical; and the generic entry points
// (conv_gemm.h) routing those shapes to them.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "autograd/kernels/conv_gemm.h"
#include "autograd/kernels/conv_special.h"
#include "tests/autograd/conv_kernel_reference.h"

namespace tg {
namespace {

using kernels::GemmEpilogue;
using kernels::Isa;
using Geometry = kernels::ConvGeometry;
// A pass under test: (x, w, g, y, epilogue) for a forward, (x, dy, g, dw, epilogue) for a kernel gradient.
using Pass = std::function<void(const float*, const float*, const Geometry&, float*, const GemmEpilogue&)>;
using testing::geometry;
using testing::random_floats;

// The ISAs whose build of the special kernels this CPU runs (an AVX-512 CPU runs the AVX2 build).
std::vector<Isa> runnable_isas() {
  std::vector<Isa> isas = {Isa::generic};
  if (kernels::cpu_supports(Isa::avx2)) isas.push_back(Isa::avx2);
  else MESSAGE("skipped: this CPU does not support avx2; the special kernels' AVX2 build was only compiled");
  if (kernels::cpu_supports(Isa::avx512)) isas.push_back(Isa::avx512);
  else MESSAGE("skipped: this CPU does not support avx512; the AVX-512 tiles were only compiled");
  return isas;
}

// Runs pass into a fresh copy of `start` on 1 and 2 threads; checks the two are bitwise the same and returns one.
std::vector<float> on_1_and_2_threads(const std::vector<float>& start, const std::function<void(float*)>& pass) {
  const int threads = omp_get_max_threads();
  std::vector<float> out[2] = {start, start};
  for (int t = 0; t < 2; ++t) {
    omp_set_num_threads(t + 1);
    pass(out[t].data());
  }
  omp_set_num_threads(threads);
  CHECK(std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(float)) == 0);
  return out[0];
}

// How many values of got are farther from want (+ added * old, then + bias per channel, then ReLU) than the rounding
// bound of a float32 sum of `terms` terms of magnitude mag (plus the old value and the bias).
int64_t count_wrong(const std::vector<float>& got, const std::vector<double>& want, const std::vector<double>& mag,
                    double terms, const std::vector<float>& old, double added, const float* bias, int64_t channels,
                    bool relu) {
  int64_t wrong = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double b = bias ? bias[i % channels] : 0.0, before = added == 0 ? 0.0 : added * old[i];
    double v = want[i] + before + b;
    if (relu) v = std::max(v, 0.0);
    const double tol = 1.2e-7 * (terms + 3) * (mag[i] + std::abs(before) + std::abs(b)) + 1e-30;
    wrong += !(std::abs(got[i] - v) <= tol);
  }
  return wrong;
}

struct Data {
  std::vector<float> x, w, dy, bias;
  testing::DirectConv want;
};
Data data_for(const Geometry& g, uint64_t seed) {
  Data d;
  d.x = random_floats(static_cast<size_t>(g.batch * g.in_h * g.in_w * g.in_c), seed);
  d.w = random_floats(static_cast<size_t>(g.patch() * g.out_c), seed + 1);
  d.dy = random_floats(static_cast<size_t>(g.lines() * g.out_w * g.out_c), seed + 2);
  d.bias = random_floats(static_cast<size_t>(g.out_c), seed + 3);
  d.want = testing::direct_conv(d.x, d.w, d.dy, g);
  return d;
}

// The forward pass through fwd (x, w, g, y, epilogue) with no epilogue, bias + ReLU, and accumulation with both:
// against float64, and the fused epilogue against the separate float32 passes, value for value.
void check_forward(const Geometry& g, const Data& d, const Pass& fwd) {
  const size_t size = d.want.y.size();
  const std::vector<float> old = random_floats(size, 77), nan(size, std::nanf(""));
  const double terms = double(g.patch());
  auto run = [&](const std::vector<float>& start, const GemmEpilogue& e) {
    return on_1_and_2_threads(start, [&](float* y) { fwd(d.x.data(), d.w.data(), g, y, e); });
  };
  const auto plain = run(nan, {}), fused = run(nan, {false, d.bias.data(), true});
  const auto added = run(old, {true, d.bias.data(), true});
  CHECK(count_wrong(plain, d.want.y, d.want.y_abs, terms, old, 0, nullptr, g.out_c, false) == 0);
  CHECK(count_wrong(fused, d.want.y, d.want.y_abs, terms, old, 0, d.bias.data(), g.out_c, true) == 0);
  CHECK(count_wrong(added, d.want.y, d.want.y_abs, terms, old, 1, d.bias.data(), g.out_c, true) == 0);
  int64_t differ = 0;
  for (size_t i = 0; i < size; ++i) {
    float separate = plain[i] + d.bias[i % g.out_c];
    separate = separate < 0.0f ? 0.0f : separate;
    differ += std::memcmp(&fused[i], &separate, sizeof(float)) != 0;
  }
  CHECK(differ == 0);
}

// The kernel gradient through grad (x, dy, g, dw, epilogue), overwriting and accumulating.
void check_kernel_grad(const Geometry& g, const Data& d, const Pass& grad) {
  const size_t size = d.want.dw.size();
  const std::vector<float> old = random_floats(size, 78), nan(size, std::nanf(""));
  const double terms = double(g.lines() * g.out_w + kernels::kMaxPartialSums);
  auto run = [&](const std::vector<float>& start, const GemmEpilogue& e) {
    return on_1_and_2_threads(start, [&](float* dw) { grad(d.x.data(), d.dy.data(), g, dw, e); });
  };
  const auto dw = run(nan, {}), added = run(old, {true, nullptr, false});
  CHECK(count_wrong(dw, d.want.dw, d.want.dw_abs, terms, old, 0, nullptr, g.out_c, false) == 0);
  CHECK(count_wrong(added, d.want.dw, d.want.dw_abs, terms, old, 1, nullptr, g.out_c, false) == 0);
}

// check(isa, g, data) for every ISA the CPU runs and every case, each first checked to be one the kernel takes.
void for_each_case(const std::vector<Geometry>& cases, uint64_t seed, bool (*applies)(const Geometry&),
                   const std::function<void(Isa, const Geometry&, const Data&)>& check) {
  for (const Isa isa : runnable_isas())
    for (const Geometry& g : cases) {
      CAPTURE(std::string(kernels::isa_name(isa)));
      CAPTURE(g.batch);
      CAPTURE(g.in_h);
      CAPTURE(g.in_w);
      CAPTURE(g.in_c);
      CAPTURE(g.out_c);
      CAPTURE(g.kernel_h);
      CAPTURE(g.pad_top);
      REQUIRE(applies(g));
      check(isa, g, data_for(g, seed += 4));
    }
}

}  // namespace

TEST_CASE("conv special kernels: the 1-channel first layer's forward matches float64, with every epilogue") {
  // 3x3 'same' and 'valid', larger and even kernels, rows shorter than a block of pixels, channel counts around the
  // 8 and 16 lane blocks, and the U-Net's 16 and 64.
  const std::vector<Geometry> cases = {
      geometry(2, 37, 29, 1, 16, 3, 3, 1, 1, 1), geometry(1, 19, 23, 1, 7, 3, 3, 1, 1, 0),
      geometry(3, 11, 5, 1, 33, 5, 5, 1, 1, 2),  geometry(1, 9, 13, 1, 64, 3, 3, 1, 1, 1),
      geometry(2, 8, 9, 1, 1, 2, 2, 1, 1, 0),    geometry(1, 4, 3, 1, 19, 3, 3, 1, 1, 2),
  };
  for_each_case(cases, 1000, kernels::first_layer_forward_applies, [](Isa isa, const Geometry& g, const Data& d) {
    check_forward(g, d, [isa](auto... args) { kernels::first_layer_forward(isa, args...); });
  });
}

TEST_CASE("conv special kernels: the direct 3x3 kernel gradient of few channels matches float64") {
  // 1 to 32 input and 1 to 64 output channels (odd ones: dy copied per line, input channels left over from the
  // pairs), every padding of a 3x3 stride-1 layer, odd sizes, several images and several groups of lines.
  const std::vector<Geometry> cases = {
      geometry(2, 37, 29, 1, 16, 3, 3, 1, 1, 1),  geometry(1, 13, 11, 3, 5, 3, 3, 1, 1, 0),
      geometry(3, 17, 19, 16, 16, 3, 3, 1, 1, 1), geometry(1, 12, 9, 17, 24, 3, 3, 1, 1, 2),
      geometry(1, 70, 66, 32, 32, 3, 3, 1, 1, 1), geometry(2, 6, 5, 31, 1, 3, 3, 1, 1, 1),
      geometry(1, 15, 14, 1, 64, 3, 3, 1, 1, 1),  geometry(1, 9, 10, 5, 57, 3, 3, 1, 1, 1),
      // The AVX-512 tile's shapes (16 or 32 inputs, outputs in multiples of 8): 8, 24 and 64 outputs, 'valid'.
      geometry(2, 11, 23, 16, 8, 3, 3, 1, 1, 1),  geometry(1, 9, 7, 32, 24, 3, 3, 1, 1, 0),
      geometry(1, 5, 40, 16, 64, 3, 3, 1, 1, 2),
  };
  for_each_case(cases, 2000, [](const Geometry& g) { return kernels::direct_kernel_grad_applies(Isa::generic, g); },
                [](Isa isa, const Geometry& g, const Data& d) {
                  check_kernel_grad(g, d, [isa](auto... args) { kernels::direct_kernel_grad(isa, args...); });
                });
}

TEST_CASE("conv special kernels: the AVX-512 kernel gradient of up to 128 channels matches float64") {
  if (!kernels::cpu_supports(Isa::avx512)) {
    MESSAGE("skipped: this CPU does not support avx512; the AVX-512 kernel gradient tile was only compiled");
    return;
  }
  // 64 and 128 channels: several groups, lines longer than a chunk, rows narrower than the kernel, 'valid'.
  const std::vector<Geometry> cases = {
      geometry(2, 13, 21, 64, 64, 3, 3, 1, 1, 1), geometry(1, 40, 70, 128, 8, 3, 3, 1, 1, 1),
      geometry(3, 5, 2, 16, 128, 3, 3, 1, 1, 1),  geometry(1, 9, 11, 48, 40, 3, 3, 1, 1, 0),
  };
  for_each_case(cases, 5000, [](const Geometry& g) { return kernels::direct_kernel_grad_applies(Isa::avx512, g); },
                [](Isa isa, const Geometry& g, const Data& d) {
                  if (isa == Isa::avx512)
                    check_kernel_grad(g, d, [](auto... args) { kernels::direct_kernel_grad(Isa::avx512, args...); });
                });
  CHECK_FALSE(kernels::direct_kernel_grad_applies(Isa::avx512, geometry(1, 9, 9, 256, 64, 3, 3, 1, 1, 1)));
  CHECK_FALSE(kernels::direct_kernel_grad_applies(Isa::avx512, geometry(1, 9, 9, 64, 60, 3, 3, 1, 1, 1)));
  CHECK_FALSE(kernels::direct_kernel_grad_applies(Isa::avx2, geometry(1, 9, 9, 64, 64, 3, 3, 1, 1, 1)));
}

TEST_CASE("conv special kernels: the direct 3x3 forward (AVX-512 and AVX2) matches float64, with every epilogue") {
  // Rows shorter than a tile, one past a tile, several tiles with a partial last one; every padding of a 3x3 layer
  // (2 is the input gradient's); channels around 16 on either side, 1 and 3 inputs, the U-Net's 16 -> 16, 32 -> 16,
  // 16 -> 32 and 64 -> 16.
  const std::vector<Geometry> cases = {
      geometry(2, 9, 5, 16, 16, 3, 3, 1, 1, 1),   geometry(1, 7, 17, 3, 16, 3, 3, 1, 1, 1),
      geometry(1, 6, 35, 32, 16, 3, 3, 1, 1, 0),  geometry(2, 5, 18, 16, 32, 3, 3, 1, 1, 2),
      geometry(1, 11, 33, 17, 13, 3, 3, 1, 1, 1), geometry(1, 4, 48, 64, 16, 3, 3, 1, 1, 1),
      geometry(3, 3, 3, 1, 1, 3, 3, 1, 1, 1),     geometry(1, 8, 21, 9, 27, 3, 3, 1, 1, 1),
  };
  for_each_case(cases, 4000, [](const Geometry& g) { return kernels::direct_3x3_forward_applies(Isa::avx512, g); },
                [](Isa isa, const Geometry& g, const Data& d) {
                  if (isa == Isa::generic) return;  // no portable build of it
                  check_forward(g, d, [isa](auto... args) { kernels::direct_3x3_forward(isa, args...); });
                });
  // What it does not take: strided, dilated, 2x2, and 32 -> 32 (Winograd's), or the portable ISA.
  CHECK_FALSE(kernels::direct_3x3_forward_applies(Isa::avx512, geometry(1, 9, 9, 16, 16, 3, 3, 2, 1, 1)));
  CHECK_FALSE(kernels::direct_3x3_forward_applies(Isa::avx512, geometry(1, 9, 9, 16, 16, 3, 3, 1, 2, 2)));
  CHECK_FALSE(kernels::direct_3x3_forward_applies(Isa::avx512, geometry(1, 9, 9, 16, 16, 2, 2, 1, 1, 0)));
  CHECK_FALSE(kernels::direct_3x3_forward_applies(Isa::avx512, geometry(1, 9, 9, 32, 32, 3, 3, 1, 1, 1)));
  CHECK_FALSE(kernels::direct_3x3_forward_applies(Isa::generic, geometry(1, 9, 9, 16, 16, 3, 3, 1, 1, 1)));
  CHECK(kernels::direct_3x3_forward_applies(Isa::avx2, geometry(1, 9, 9, 16, 32, 3, 3, 1, 1, 1)));
  CHECK_FALSE(kernels::direct_3x3_forward_applies(Isa::avx2, geometry(1, 9, 9, 32, 16, 3, 3, 1, 1, 1)));
}

TEST_CASE("conv special kernels: the 1x1 convolution with few outputs matches float64 in all three passes") {
  // 1 to 4 outputs; input channels below, at and past whole vectors; enough pixels for several blocks and groups.
  const std::vector<Geometry> cases = {
      geometry(2, 37, 29, 16, 2, 1, 1, 1, 1, 0), geometry(1, 19, 23, 7, 1, 1, 1, 1, 1, 0),
      geometry(3, 11, 15, 19, 3, 1, 1, 1, 1, 0), geometry(1, 64, 65, 64, 4, 1, 1, 1, 1, 0),
      geometry(1, 3, 5, 1, 2, 1, 1, 1, 1, 0),
  };
  for_each_case(cases, 3000, kernels::pointwise_few_outputs_applies, [](Isa isa, const Geometry& g, const Data& d) {
    check_forward(g, d, [isa](auto... args) { kernels::pointwise_few_forward(isa, args...); });
    check_kernel_grad(g, d, [isa](auto... args) { kernels::pointwise_few_kernel_grad(isa, args...); });
    const std::vector<float> nan(d.want.dx.size(), std::nanf("")), zeros(nan.size(), 0.0f);
    const auto dx = on_1_and_2_threads(
        nan, [&](float* out) { kernels::pointwise_few_input_grad(isa, d.dy.data(), d.w.data(), g, out); });
    CHECK(count_wrong(dx, d.want.dx, d.want.dx_abs, double(g.out_c), zeros, 0, nullptr, 1, false) == 0);
  });
}

TEST_CASE("conv special kernels: the generic entry points take them for their shapes, and only those") {
  const Geometry first = geometry(2, 21, 17, 1, 16, 3, 3, 1, 1, 1);
  const Geometry few = geometry(1, 20, 9, 16, 16, 3, 3, 1, 1, 1);
  const Geometry output = geometry(2, 13, 11, 16, 2, 1, 1, 1, 1, 0);
  const Isa isa = kernels::active_isa();
  const Data a = data_for(first, 1), b = data_for(few, 5), c = data_for(output, 9);
  auto same = [](const std::vector<float>& u, const std::vector<float>& v) {
    return std::memcmp(u.data(), v.data(), u.size() * sizeof(float)) == 0;
  };
  std::vector<float> u(a.want.y.size()), v(u.size());
  kernels::conv_forward(a.x.data(), a.w.data(), first, u.data(), a.bias.data(), true);
  kernels::first_layer_forward(isa, a.x.data(), a.w.data(), first, v.data(), {false, a.bias.data(), true});
  CHECK(same(u, v));
  u.assign(a.want.dw.size(), 0), v.assign(u.size(), 0);
  kernels::conv_kernel_grad(a.x.data(), a.dy.data(), first, u.data());
  kernels::direct_kernel_grad(isa, a.x.data(), a.dy.data(), first, v.data(), {});
  CHECK(same(u, v));
  u.assign(b.want.dw.size(), 0), v.assign(u.size(), 0);
  kernels::conv_kernel_grad(b.x.data(), b.dy.data(), few, u.data());
  kernels::direct_kernel_grad(isa, b.x.data(), b.dy.data(), few, v.data(), {});
  CHECK(same(u, v));
  if (isa != Isa::generic) {  // the forward and the stride-1 input gradient of a 16-channel layer
    u.assign(b.want.y.size(), 0), v.assign(u.size(), 0);
    kernels::conv_forward(b.x.data(), b.w.data(), few, u.data(), b.bias.data(), true);
    kernels::direct_3x3_forward(isa, b.x.data(), b.w.data(), few, v.data(), {false, b.bias.data(), true});
    CHECK(same(u, v));
    u.assign(b.want.dx.size(), 0);
    kernels::conv_input_grad(b.dy.data(), b.w.data(), few, u.data());
    CHECK(count_wrong(u, b.want.dx, b.want.dx_abs, 9.0 * few.out_c, v, 0, nullptr, 1, false) == 0);
  }
  u.assign(c.want.y.size(), 0), v.assign(u.size(), 0);
  kernels::conv_forward(c.x.data(), c.w.data(), output, u.data());
  kernels::pointwise_few_forward(isa, c.x.data(), c.w.data(), output, v.data(), {});
  CHECK(same(u, v));
  u.assign(c.want.dx.size(), 0), v.assign(u.size(), 0);
  kernels::conv_input_grad(c.dy.data(), c.w.data(), output, u.data());
  kernels::pointwise_few_input_grad(isa, c.dy.data(), c.w.data(), output, v.data());
  CHECK(same(u, v));
  u.assign(c.want.dw.size(), 0), v.assign(u.size(), 0);
  kernels::conv_kernel_grad(c.x.data(), c.dy.data(), output, u.data());
  kernels::pointwise_few_kernel_grad(isa, c.x.data(), c.dy.data(), output, v.data(), {});
  CHECK(same(u, v));
  // Shapes they do not take: strided, dilated, 64 input channels, 1x1 with 5 outputs.
  CHECK_FALSE(kernels::first_layer_forward_applies(geometry(1, 9, 9, 1, 16, 3, 3, 2, 1, 1)));
  CHECK_FALSE(kernels::first_layer_forward_applies(geometry(1, 9, 9, 2, 16, 3, 3, 1, 1, 1)));
  CHECK_FALSE(kernels::direct_kernel_grad_applies(Isa::avx2, geometry(1, 9, 9, 16, 16, 3, 3, 1, 2, 2)));
  CHECK_FALSE(kernels::direct_kernel_grad_applies(Isa::avx2, geometry(1, 9, 9, 64, 32, 3, 3, 1, 1, 1)));
  CHECK_FALSE(kernels::direct_kernel_grad_applies(Isa::avx2, geometry(1, 9, 9, 32, 128, 3, 3, 1, 1, 1)));
  CHECK_FALSE(kernels::direct_kernel_grad_applies(Isa::avx2, geometry(1, 9, 9, 16, 16, 2, 2, 1, 1, 0)));
  CHECK_FALSE(kernels::pointwise_few_outputs_applies(geometry(1, 9, 9, 16, 5, 1, 1, 1, 1, 0)));
  CHECK_FALSE(kernels::pointwise_few_outputs_applies(geometry(1, 9, 9, 16, 2, 1, 1, 2, 1, 0)));
}

}  // namespace tg
