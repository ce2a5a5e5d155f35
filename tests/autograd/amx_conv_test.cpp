// The AMX bfloat16 convolutions (autograd/kernels/amx_conv.h) against float64 references computed here: exactly
// the float64 convolution of the operands rounded to bfloat16 (rounded here by an independent scalar
// round-to-nearest-even), within float32 summation error, and the float64 convolution of the float32 operands within
// the bfloat16 rounding. Skipped, saying so, on CPUs without AMX-BF16.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/kernels/amx_conv.h"
#include "autograd/kernels/conv_gemm.h"
#include "tests/autograd/conv_kernel_reference.h"

namespace tg {
namespace {


using testing::direct_conv;
using testing::DirectConv;
using testing::geometry;
using testing::random_floats;

// bfloat16 rounding to nearest, ties to even, written out (no NaN or denormal inputs here).
float round_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  u &= 0xffff0000u;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

std::vector<float> rounded(const std::vector<float>& v) {
  std::vector<float> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = round_bf16(v[i]);
  return r;
}


int64_t count_outside(const std::vector<float>& got, const std::vector<double>& want, const std::vector<double>& mag,
                      double relative) {
  int64_t wrong = 0;
  for (size_t i = 0; i < want.size(); ++i) wrong += !(std::abs(got[i] - want[i]) <= relative * mag[i] + 1e-30);
  return wrong;
}

bool skip_without_amx() {
  std::string why;
  if (amx_bf16_available(&why)) return false;
  MESSAGE("skipped: " << why);
  return true;
}

}  // namespace

TEST_CASE("amx bf16: precision names are checked, and bf16 is refused where the CPU cannot run it") {
  CHECK(parse_conv_precision("float32") == ConvPrecision::float32);
  CHECK(parse_conv_precision("bf16") == ConvPrecision::bf16);
  CHECK_THROWS_WITH_AS(parse_conv_precision("fp16", "--precision"),
                       "--precision='fp16' is not one of float32, bf16", std::runtime_error);
  std::string why;
  if (!amx_bf16_available(&why)) {
    CHECK_THROWS_AS(set_conv_precision(ConvPrecision::bf16), std::runtime_error);
    CHECK(conv_precision() == ConvPrecision::float32);
    CHECK(!why.empty());
  }
}

TEST_CASE("amx bf16: forward, input and kernel gradients are the float64 convolution of bf16-rounded operands") {
  if (skip_without_amx()) return;
  // Odd channel counts (k and output columns off every tile), 16- and 32-channel layers, stride, dilation, a 2x2
  // kernel, a 1x1 with many outputs, pixels not a multiple of 32, several images.
  const std::vector<kernels::ConvGeometry> cases = {
      geometry(2, 17, 19, 5, 7, 3, 3, 1, 1, 1),   geometry(1, 16, 16, 16, 16, 3, 3, 1, 1, 1),
      geometry(3, 13, 11, 13, 33, 3, 3, 2, 1, 1), geometry(1, 23, 21, 32, 40, 3, 3, 1, 2, 2),
      geometry(2, 9, 11, 70, 19, 2, 2, 1, 1, 0),  geometry(1, 8, 8, 300, 48, 3, 3, 1, 1, 1),
      geometry(1, 12, 10, 24, 70, 1, 1, 1, 1, 0), geometry(2, 40, 37, 16, 32, 3, 3, 1, 1, 1),
  };
  const ConvPrecisionScope bf16(ConvPrecision::bf16);
  const int threads = omp_get_max_threads();
  uint64_t seed = 900;
  for (const kernels::ConvGeometry& g : cases) {
    CAPTURE(g.in_h);
    CAPTURE(g.in_c);
    CAPTURE(g.out_c);
    CAPTURE(g.kernel_h);
    CAPTURE(g.stride_h);
    REQUIRE(kernels::use_amx_bf16(g));
    const auto x = random_floats(static_cast<size_t>(g.batch * g.in_h * g.in_w * g.in_c), ++seed);
    const auto w = random_floats(static_cast<size_t>(g.patch() * g.out_c), ++seed);
    const auto dy = random_floats(static_cast<size_t>(g.lines() * g.out_w * g.out_c), ++seed);
    const auto bias = random_floats(static_cast<size_t>(g.out_c), ++seed);
    const DirectConv exact = direct_conv(x, w, dy, g);
    const DirectConv of_rounded = direct_conv(rounded(x), rounded(w), rounded(dy), g);
    std::vector<float> y[2], dw[2], dx[2];
    for (int t = 0; t < 2; ++t) {
      omp_set_num_threads(t + 1);
      y[t].assign(exact.y.size(), std::nanf(""));
      dw[t].assign(exact.dw.size(), std::nanf(""));
      dx[t].assign(exact.dx.size(), std::nanf(""));
      kernels::conv_forward(x.data(), w.data(), g, y[t].data());
      kernels::conv_kernel_grad(x.data(), dy.data(), g, dw[t].data());
      kernels::conv_input_grad(dy.data(), w.data(), g, dx[t].data());
    }
    omp_set_num_threads(threads);
    const double y_terms = double(g.patch() + 2), dw_terms = double(g.lines() * g.out_w + 64);
    // Against the rounded operands: only float32 summation error remains (the products of two bfloat16 values are
    // exact in float32).
    CHECK(count_outside(y[0], of_rounded.y, of_rounded.y_abs, 1.2e-7 * y_terms) == 0);
    CHECK(count_outside(dw[0], of_rounded.dw, of_rounded.dw_abs, 1.2e-7 * dw_terms) == 0);
    // Against the float32 operands: each product off by at most two bfloat16 roundings (2^-8 relative).
    CHECK(count_outside(y[0], exact.y, exact.y_abs, 1.0 / 256 + 1.2e-7 * y_terms) == 0);
    CHECK(count_outside(dw[0], exact.dw, exact.dw_abs, 1.0 / 256 + 1.2e-7 * dw_terms) == 0);
    CHECK(count_outside(dx[0], exact.dx, exact.dx_abs, 1.0 / 256 + 1.2e-7 * double(g.patch() * 4 + 2)) == 0);
    // Not merely float32 by accident: at least some outputs differ from the exact values by more than float32 would.
    int64_t far = 0;
    for (size_t i = 0; i < exact.y.size(); ++i) far += std::abs(y[0][i] - exact.y[i]) > 1e-4 * exact.y_abs[i];
    CHECK(far > 0);
    CHECK(std::memcmp(y[0].data(), y[1].data(), y[0].size() * sizeof(float)) == 0);
    CHECK(std::memcmp(dw[0].data(), dw[1].data(), dw[0].size() * sizeof(float)) == 0);
    CHECK(std::memcmp(dx[0].data(), dx[1].data(), dx[0].size() * sizeof(float)) == 0);
  }
}

TEST_CASE("amx bf16: the forward's epilogue (accumulate, bias, ReLU) and the kernel gradient's accumulation") {
  if (skip_without_amx()) return;
  const ConvPrecisionScope bf16(ConvPrecision::bf16);
  const kernels::ConvGeometry g = geometry(2, 21, 18, 20, 35, 3, 3, 1, 1, 1);
  const auto x = random_floats(static_cast<size_t>(g.batch * g.in_h * g.in_w * g.in_c), 1);
  const auto w = random_floats(static_cast<size_t>(g.patch() * g.out_c), 2);
  const auto dy = random_floats(static_cast<size_t>(g.lines() * g.out_w * g.out_c), 3);
  const auto bias = random_floats(static_cast<size_t>(g.out_c), 4);
  const auto y0 = random_floats(dy.size(), 5);
  std::vector<float> plain(dy.size()), fused = y0;
  kernels::conv_forward(x.data(), w.data(), g, plain.data());
  kernels::conv_forward(x.data(), w.data(), g, fused.data(), kernels::GemmEpilogue{true, bias.data(), true});
  int64_t wrong = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    const float want = std::max(0.0f, (y0[i] + plain[i]) + bias[i % g.out_c]);
    wrong += fused[i] != want;
  }
  CHECK(wrong == 0);
  std::vector<float> dw(static_cast<size_t>(g.patch() * g.out_c)), dw2;
  kernels::conv_kernel_grad(x.data(), dy.data(), g, dw.data());
  dw2 = dw;
  kernels::conv_kernel_grad(x.data(), dy.data(), g, dw2.data(), kernels::GemmEpilogue{true, nullptr, false});
  for (size_t i = 0; i < dw.size(); ++i) wrong += dw2[i] != dw[i] + dw[i];
  CHECK(wrong == 0);
}

}  // namespace tg
