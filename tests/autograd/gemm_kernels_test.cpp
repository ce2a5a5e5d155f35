// The float32 GEMM micro-kernels (autograd/kernels/sgemm_ukernel.h) and the packed GEMM and convolution passes built
// on them, against float64 references computed here, on shapes that are not multiples of any tile or vector width.
// Every kernel this CPU can run is tested; the others are skipped with a message (ctest also reruns the conv tests
// with TAPEGRAD_ISA=generic, see tests/CMakeLists.txt).
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/kernels/conv_gemm.h"
#include "autograd/kernels/gemm.h"
#include "autograd/kernels/packed_gemm.h"
#include "autograd/kernels/tiled_gemm.h"
#include "autograd/kernels/winograd.h"
#include "tests/autograd/conv_kernel_reference.h"

namespace tg {
namespace {

using kernels::GemmEpilogue;
using kernels::Isa;
using testing::direct_conv;
using testing::DirectConv;
using testing::geometry;
using testing::random_floats;

struct Shape3 {
  int64_t m, n, k;
};

// C[m, n] = alpha op(A) op(B) through the epilogue, in float64, with the worst-case rounding bound of a float32
// sum of k + 3 terms (products, old C, bias) for each element.
void reference_gemm(bool ta, bool tb, Shape3 s, float alpha, const std::vector<float>& a, const std::vector<float>& b,
                    const std::vector<float>& c0, int64_t ldc, const GemmEpilogue& e, std::vector<double>& want,
                    std::vector<double>& tol) {
  want.assign(static_cast<size_t>(s.m * s.n), 0.0), tol.assign(want.size(), 0.0);
  for (int64_t i = 0; i < s.m; ++i)
    for (int64_t j = 0; j < s.n; ++j) {
      double sum = 0, magnitude = 0;
      for (int64_t p = 0; p < s.k; ++p) {
        const double av = alpha * double(ta ? a[p * s.m + i] : a[i * s.k + p]);
        const double bv = tb ? b[j * s.k + p] : b[p * s.n + j];
        sum += av * bv, magnitude += std::abs(av * bv);
      }
      if (e.accumulate) sum += c0[i * ldc + j], magnitude += std::abs(c0[i * ldc + j]);
      if (e.bias) sum += e.bias[j], magnitude += std::abs(e.bias[j]);
      if (e.relu) sum = std::max(sum, 0.0);
      want[i * s.n + j] = sum;
      tol[i * s.n + j] = double(s.k + 3) * 1.2e-7 * magnitude + 1e-30;
    }
}

std::vector<Isa> all_isas() { return {Isa::generic, Isa::avx2, Isa::avx512}; }

// Every micro-kernel of every ISA this CPU runs (the ISAs' own and their narrow tiles); the others are named as skipped.
std::vector<const kernels::SgemmUkernel*> runnable_ukernels() {
  std::vector<const kernels::SgemmUkernel*> all;
  for (Isa isa : all_isas()) {
    if (!kernels::cpu_supports(isa)) {
      MESSAGE("skipped: this CPU does not support " << std::string(kernels::isa_name(isa)) << "; its kernels were only compiled");
      continue;
    }
    for (const kernels::SgemmUkernel* uk : kernels::sgemm_ukernels(isa)) all.push_back(uk);
  }
  return all;
}

}  // namespace

TEST_CASE("gemm kernels: every micro-kernel the CPU runs matches float64 on odd shapes, with every epilogue") {
  // K = 1 and 9 (the first layer), K past one kc block and far past it; M, N off every tile and vector width.
  const std::vector<Shape3> shapes = {{1, 1, 1},    {7, 5, 1},    {13, 17, 9},  {6, 16, 256}, {14, 32, 193}, {16, 16, 300}, {33, 15, 40},
                                      {37, 33, 300}, {5, 100, 513}, {121, 19, 27}, {169, 40, 64}, {30, 70, 1200}};
  for (const kernels::SgemmUkernel* kernel : runnable_ukernels()) {
    const kernels::SgemmUkernel& uk = *kernel;
    CAPTURE(uk.name);
    uint64_t seed = 100;
    for (const Shape3& s : shapes)
      for (int variant = 0; variant < 8; ++variant) {
        const bool ta = variant & 1, tb = variant & 2, accumulate = variant & 4;
        const float alpha = variant == 5 ? 0.5f : 1.0f;
        const int64_t ldc = s.n + 3;  // a gap after each row of C, which must not be written
        const auto a = random_floats(static_cast<size_t>(s.m * s.k), ++seed);
        const auto b = random_floats(static_cast<size_t>(s.k * s.n), ++seed);
        const auto bias = random_floats(static_cast<size_t>(s.n), ++seed);
        const auto c0 = random_floats(static_cast<size_t>(s.m * ldc), ++seed);
        for (int epilogue = 0; epilogue < 4; ++epilogue) {
          GemmEpilogue e;
          e.accumulate = accumulate;
          e.bias = epilogue & 1 ? bias.data() : nullptr;
          e.relu = epilogue & 2;
          CAPTURE(s.m);
          CAPTURE(s.n);
          CAPTURE(s.k);
          CAPTURE(variant);
          CAPTURE(epilogue);
          std::vector<float> c = c0;
          kernels::sgemm(uk, ta, tb, s.m, s.n, s.k, alpha, a.data(), ta ? s.m : s.k, b.data(), tb ? s.k : s.n,
                         c.data(), ldc, e);
          std::vector<double> want, tol;
          reference_gemm(ta, tb, s, alpha, a, b, c0, ldc, e, want, tol);
          int64_t wrong = 0, gap_written = 0, negative = 0;
          for (int64_t i = 0; i < s.m; ++i) {
            for (int64_t j = 0; j < s.n; ++j) {
              const float got = c[i * ldc + j];
              if (!(std::abs(got - want[i * s.n + j]) <= tol[i * s.n + j])) ++wrong;
              if (e.relu && !(got >= 0.0f)) ++negative;
            }
            for (int64_t j = s.n; j < ldc; ++j) gap_written += std::memcmp(&c[i * ldc + j], &c0[i * ldc + j], 4) != 0;
          }
          CHECK(wrong == 0);
          CHECK(gap_written == 0);
          CHECK(negative == 0);
        }
      }
  }
}

TEST_CASE("gemm kernels: an overwriting product never reads C, and k = 0 still defines C") {
  for (const kernels::SgemmUkernel* kernel : runnable_ukernels()) {
    const kernels::SgemmUkernel& uk = *kernel;
    CAPTURE(uk.name);
    const auto a = random_floats(11 * 7, 1), b = random_floats(7 * 21, 2), bias = random_floats(21, 3);
    std::vector<float> clean(11 * 21, 0.0f), dirty(11 * 21, std::nanf(""));
    kernels::sgemm(uk, false, false, 11, 21, 7, 1.0f, a.data(), 7, b.data(), 21, clean.data(), 21, {});
    kernels::sgemm(uk, false, false, 11, 21, 7, 1.0f, a.data(), 7, b.data(), 21, dirty.data(), 21, {});
    CHECK(std::memcmp(clean.data(), dirty.data(), clean.size() * sizeof(float)) == 0);
    std::vector<float> c(3 * 21, std::nanf(""));
    kernels::sgemm(uk, false, false, 3, 21, 0, 1.0f, a.data(), 7, b.data(), 21, c.data(), 21,
                   GemmEpilogue{false, bias.data(), false});
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 21; ++j) CHECK(c[i * 21 + j] == bias[j]);
  }
}

TEST_CASE("gemm kernels: gemm_tiled is bitwise the same on 1 and 2 threads") {
  const int64_t m = 1000, n = 77, k = 601;  // several row tiles and several k blocks
  const auto a = random_floats(m * k, 7), b = random_floats(k * n, 8);
  const int threads = omp_get_max_threads();
  std::vector<float> c1(m * n), c2(m * n);
  omp_set_num_threads(1);
  kernels::gemm_tiled(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c1.data(), n);
  omp_set_num_threads(2);
  kernels::gemm_tiled(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c2.data(), n);
  omp_set_num_threads(threads);
  CHECK(std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)) == 0);
}

TEST_CASE("gemm kernels: convolutions with im2col fused into packing match the direct definition") {
  // The first layer (1 channel), the 1x1 output layer, odd channel counts (tiles that read past a tap's channels,
  // and past the end of the input at its last pixels), stride, dilation, many images.
  const std::vector<kernels::ConvGeometry> cases = {
      geometry(2, 37, 29, 1, 16, 3, 3, 1, 1, 1),  geometry(1, 40, 33, 16, 1, 1, 1, 1, 1, 0),
      geometry(3, 17, 19, 5, 7, 3, 3, 2, 1, 1),   geometry(1, 23, 21, 13, 33, 3, 3, 1, 2, 2),
      geometry(2, 9, 11, 70, 19, 2, 2, 1, 1, 0),  geometry(1, 8, 8, 300, 40, 3, 3, 1, 1, 1),
      geometry(5, 30, 30, 8, 16, 3, 3, 1, 1, 1),  geometry(1, 6, 7, 7, 3, 3, 3, 1, 1, 1),
      // Output channels of exactly one kernel panel (8, 16, 32: nr of the generic, AVX2, AVX-512 kernels): the
      // kernel gradient reads dy in place instead of packing it.
      geometry(2, 21, 19, 9, 8, 3, 3, 1, 1, 1),  geometry(3, 25, 23, 13, 32, 3, 3, 1, 1, 1),
      // 64 and 16 channels at stride 1: whole tiles of adjacent pixels, whose rows the AVX-512 kernels address
      // from one pointer.
      geometry(2, 20, 37, 64, 40, 2, 2, 1, 1, 0), geometry(1, 19, 35, 16, 48, 2, 2, 1, 1, 0),
  };
  const int threads = omp_get_max_threads();
  uint64_t seed = 500;
  for (const kernels::ConvGeometry& g : cases) {
    CAPTURE(g.in_h);
    CAPTURE(g.in_c);
    CAPTURE(g.out_c);
    CAPTURE(g.kernel_h);
    CAPTURE(g.stride_h);
    const auto x = random_floats(static_cast<size_t>(g.batch * g.in_h * g.in_w * g.in_c), ++seed);
    const auto w = random_floats(static_cast<size_t>(g.patch() * g.out_c), ++seed);
    const auto dy = random_floats(static_cast<size_t>(g.lines() * g.out_w * g.out_c), ++seed);
    const auto bias = random_floats(static_cast<size_t>(g.out_c), ++seed);
    const DirectConv want = direct_conv(x, w, dy, g);
    const GemmEpilogue fused{false, bias.data(), true};
    std::vector<float> y[2], dw[2];
    for (int t = 0; t < 2; ++t) {
      omp_set_num_threads(t + 1);
      y[t].assign(want.y.size(), std::nanf(""));
      dw[t].assign(want.dw.size(), std::nanf(""));
      kernels::conv_forward(x.data(), w.data(), g, y[t].data(), fused);
      kernels::conv_kernel_grad(x.data(), dy.data(), g, dw[t].data());
    }
    // Accumulating into a kernel gradient that holds something already (as a second use of the kernel would).
    std::vector<float> dw_added = dw[0];
    kernels::conv_kernel_grad(x.data(), dy.data(), g, dw_added.data(), GemmEpilogue{true, nullptr, false});
    omp_set_num_threads(threads);
    // The worst-case rounding of a float32 sum of that many terms (patch entries and bias; pixels and partial sums).
    const double y_terms = double(g.patch() + 2), dw_terms = double(g.lines() * g.out_w + 32);
    int64_t wrong_y = 0, wrong_dw = 0;
    for (size_t i = 0; i < want.y.size(); ++i) {
      const double b = bias[i % g.out_c];
      const double tol = 1.2e-7 * y_terms * (want.y_abs[i] + std::abs(b)) + 1e-30;
      wrong_y += !(std::abs(y[0][i] - std::max(want.y[i] + b, 0.0)) <= tol);
    }
    for (size_t i = 0; i < want.dw.size(); ++i)
      wrong_dw += !(std::abs(dw[0][i] - want.dw[i]) <= 1.2e-7 * dw_terms * want.dw_abs[i] + 1e-30);
    int64_t wrong_added = 0;
    for (size_t i = 0; i < want.dw.size(); ++i)
      wrong_added += !(std::abs(dw_added[i] - 2 * want.dw[i]) <= 2.4e-7 * dw_terms * want.dw_abs[i] + 1e-30);
    CHECK(wrong_y == 0);
    CHECK(wrong_dw == 0);
    CHECK(wrong_added == 0);
    CHECK(std::memcmp(y[0].data(), y[1].data(), y[0].size() * sizeof(float)) == 0);
    CHECK(std::memcmp(dw[0].data(), dw[1].data(), dw[0].size() * sizeof(float)) == 0);
  }
}

namespace {
// Sets the Winograd policy for a scope and puts the previous one back.
struct WinogradPolicyScope {
  explicit WinogradPolicyScope(kernels::WinogradPolicy p) : saved(kernels::winograd_policy()) {
    kernels::set_winograd_policy(p);
  }
  ~WinogradPolicyScope() { kernels::set_winograd_policy(saved); }
  kernels::WinogradPolicy saved;
};

// How many of got's values are farther from want than `ulps` float32 roundings of the sum of their terms' magnitudes.
int64_t count_outside(const std::vector<float>& got, const std::vector<double>& want, const std::vector<double>& mag,
                      double ulps) {
  int64_t wrong = 0;
  for (size_t i = 0; i < want.size(); ++i) wrong += !(std::abs(got[i] - want[i]) <= ulps * 1.2e-7 * mag[i] + 1e-30);
  return wrong;
}
}  // namespace

TEST_CASE("gemm kernels: Winograd F(2x2, 3x3) forward, input and kernel gradients match the direct definition") {
  // Every padding a 3x3 stride-1 layer can have (valid, same, the input gradient's), odd sizes (tiles that overhang
  // the output), 1 to 70 channels (not multiples of any vector width or tile), several images and tile blocks.
  const std::vector<kernels::ConvGeometry> cases = {
      geometry(2, 9, 7, 3, 5, 3, 3, 1, 1, 1),    geometry(1, 13, 16, 17, 33, 3, 3, 1, 1, 0),
      geometry(3, 11, 10, 32, 16, 3, 3, 1, 1, 2), geometry(1, 40, 37, 70, 40, 3, 3, 1, 1, 1),
      geometry(2, 5, 5, 1, 1, 3, 3, 1, 1, 1),    geometry(1, 2, 3, 9, 20, 3, 3, 1, 1, 1),
      geometry(1, 30, 29, 64, 24, 3, 3, 1, 1, 1),
  };
  const WinogradPolicyScope on(kernels::WinogradPolicy::on);
  const int threads = omp_get_max_threads();
  uint64_t seed = 900;
  for (const kernels::ConvGeometry& g : cases) {
    CAPTURE(g.in_h);
    CAPTURE(g.in_w);
    CAPTURE(g.in_c);
    CAPTURE(g.out_c);
    CAPTURE(g.pad_top);
    REQUIRE(kernels::use_winograd(g, kernels::WinogradPass::forward));
    REQUIRE(kernels::use_winograd(g, kernels::WinogradPass::kernel_grad));
    const auto x = random_floats(static_cast<size_t>(g.batch * g.in_h * g.in_w * g.in_c), ++seed);
    const auto w = random_floats(static_cast<size_t>(g.patch() * g.out_c), ++seed);
    const auto dy = random_floats(static_cast<size_t>(g.lines() * g.out_w * g.out_c), ++seed);
    const auto bias = random_floats(static_cast<size_t>(g.out_c), ++seed);
    const DirectConv want = direct_conv(x, w, dy, g);
    std::vector<float> y[2], fused[2], dx[2], dw[2];
    for (int t = 0; t < 2; ++t) {
      omp_set_num_threads(t + 1);
      y[t].assign(want.y.size(), std::nanf(""));
      fused[t].assign(want.y.size(), std::nanf(""));
      dx[t].assign(want.dx.size(), std::nanf(""));
      dw[t].assign(want.dw.size(), std::nanf(""));
      kernels::conv_forward(x.data(), w.data(), g, y[t].data());
      kernels::conv_forward(x.data(), w.data(), g, fused[t].data(), GemmEpilogue{false, bias.data(), true});
      kernels::conv_input_grad(dy.data(), w.data(), g, dx[t].data());
      kernels::conv_kernel_grad(x.data(), dy.data(), g, dw[t].data());
    }
    omp_set_num_threads(threads);
    // Accumulating into an output and a kernel gradient that hold something already.
    std::vector<float> added = y[0], dw_added = dw[0];
    kernels::conv_forward(x.data(), w.data(), g, added.data(), GemmEpilogue{true, nullptr, false});
    kernels::conv_kernel_grad(x.data(), dy.data(), g, dw_added.data(), GemmEpilogue{true, nullptr, false});
    // A kernel gradient entry sums over every pixel, through transforms that mix the 9 taps: its bound is the
    // direct sum's over the magnitudes of all 9 taps of its channel pair.
    const int64_t pair_count = g.in_c * g.out_c;
    std::vector<double> dw_mag(want.dw.size(), 0.0), dw_twice(want.dw.size()), dw_twice_mag(want.dw.size());
    for (size_t i = 0; i < want.dw.size(); ++i)
      for (int64_t tap = 0; tap < 9; ++tap) dw_mag[i] += want.dw_abs[tap * pair_count + int64_t(i) % pair_count];
    for (size_t i = 0; i < want.dw.size(); ++i) dw_twice[i] = 2 * want.dw[i], dw_twice_mag[i] = 2 * dw_mag[i];
    const double dw_ulps = double(g.lines() * g.out_w) + 64;
    CHECK(count_outside(dw[0], want.dw, dw_mag, dw_ulps) == 0);
    CHECK(count_outside(dw_added, dw_twice, dw_twice_mag, 2 * dw_ulps) == 0);
    CHECK(std::memcmp(dw[0].data(), dw[1].data(), dw[0].size() * sizeof(float)) == 0);
    // The transforms add up to 4 terms per value on the way in and 9 on the way out, so the bound is the direct
    // sum's with a few dozen more roundings (a wrong transform is off by the size of the values themselves).
    const double ulps = double(g.patch()) + 64;
    CHECK(count_outside(y[0], want.y, want.y_abs, ulps) == 0);
    CHECK(count_outside(dx[0], want.dx, want.dx_abs, ulps) == 0);
    std::vector<double> twice(want.y.size()), twice_abs(want.y.size());
    std::vector<double> biased(want.y.size()), biased_abs(want.y.size());
    for (size_t i = 0; i < want.y.size(); ++i) {
      twice[i] = 2 * want.y[i], twice_abs[i] = 2 * want.y_abs[i];
      biased[i] = std::max(want.y[i] + bias[i % g.out_c], 0.0), biased_abs[i] = want.y_abs[i] + std::abs(bias[i % g.out_c]);
    }
    CHECK(count_outside(added, twice, twice_abs, 2 * ulps) == 0);
    CHECK(count_outside(fused[0], biased, biased_abs, ulps) == 0);
    // The fused epilogue is the separate passes, value for value.
    for (size_t i = 0; i < y[0].size(); ++i) {
      const float separate = std::max(y[0][i] + bias[i % g.out_c], 0.0f);
      if (fused[0][i] != separate) FAIL_CHECK("fused bias + ReLU differs at " << i);
    }
    CHECK(std::memcmp(y[0].data(), y[1].data(), y[0].size() * sizeof(float)) == 0);
    CHECK(std::memcmp(fused[0].data(), fused[1].data(), fused[0].size() * sizeof(float)) == 0);
    CHECK(std::memcmp(dx[0].data(), dx[1].data(), dx[0].size() * sizeof(float)) == 0);
  }
}

TEST_CASE("gemm kernels: which convolutions take the Winograd path, and TAPEGRAD_WINOGRAD's values") {
  const WinogradPolicyScope automatic(kernels::WinogradPolicy::automatic);
  constexpr auto forward = kernels::WinogradPass::forward, kernel_grad = kernels::WinogradPass::kernel_grad;
  CHECK(kernels::use_winograd(geometry(1, 32, 32, 64, 64, 3, 3, 1, 1, 1), forward));
  CHECK(kernels::use_winograd(geometry(1, 32, 32, 64, 64, 3, 3, 1, 1, 1), kernel_grad));
  CHECK(kernels::use_winograd(geometry(1, 32, 32, 16, 32, 3, 3, 1, 1, 1), forward));
  CHECK_FALSE(kernels::use_winograd(geometry(1, 32, 32, 16, 32, 3, 3, 1, 1, 1), kernel_grad));  // few channels
  CHECK(kernels::use_winograd(geometry(1, 16, 16, 512, 1024, 3, 3, 1, 1, 1), forward));
  CHECK_FALSE(kernels::use_winograd(geometry(1, 16, 16, 512, 1024, 3, 3, 1, 1, 1), kernel_grad));  // 64 tiles
  CHECK(kernels::use_winograd(geometry(4, 16, 16, 512, 1024, 3, 3, 1, 1, 1), kernel_grad));        // 256 tiles
  CHECK_FALSE(kernels::use_winograd(geometry(1, 32, 32, 1, 64, 3, 3, 1, 1, 1), forward));       // the first layer
  for (const auto pass : {forward, kernel_grad}) {
    CHECK_FALSE(kernels::use_winograd(geometry(1, 32, 32, 64, 64, 3, 3, 2, 1, 1), pass));  // strided
    CHECK_FALSE(kernels::use_winograd(geometry(1, 32, 32, 64, 64, 3, 3, 1, 2, 2), pass));  // dilated
    CHECK_FALSE(kernels::use_winograd(geometry(1, 32, 32, 64, 64, 2, 2, 1, 1, 0), pass));  // 2x2
  }
  kernels::set_winograd_policy(kernels::WinogradPolicy::off);
  CHECK_FALSE(kernels::use_winograd(geometry(1, 32, 32, 64, 64, 3, 3, 1, 1, 1), forward));
  CHECK_FALSE(kernels::use_winograd(geometry(1, 32, 32, 64, 64, 3, 3, 1, 1, 1), kernel_grad));
  kernels::set_winograd_policy(kernels::WinogradPolicy::on);
  CHECK(kernels::use_winograd(geometry(1, 32, 32, 1, 64, 3, 3, 1, 1, 1), forward));
  CHECK(kernels::use_winograd(geometry(1, 32, 32, 1, 64, 3, 3, 1, 1, 1), kernel_grad));
  CHECK(kernels::parse_winograd_policy("off") == kernels::WinogradPolicy::off);
  CHECK(kernels::parse_winograd_policy("on") == kernels::WinogradPolicy::on);
  CHECK(kernels::parse_winograd_policy("auto") == kernels::WinogradPolicy::automatic);
  CHECK_THROWS_WITH_AS(kernels::parse_winograd_policy("yes"),
                       doctest::Contains("TAPEGRAD_WINOGRAD='yes' is not one of off, on, auto"), std::runtime_error);
}

TEST_CASE("gemm kernels: TAPEGRAD_ISA names are checked") {
  CHECK(kernels::parse_isa("generic") == Isa::generic);
  CHECK(kernels::parse_isa("avx2") == Isa::avx2);
  CHECK(kernels::parse_isa("avx512") == Isa::avx512);
  CHECK_THROWS_WITH_AS(kernels::parse_isa("sse9"), doctest::Contains("TAPEGRAD_ISA='sse9' is not one of generic, avx2"),
                       std::runtime_error);
  MESSAGE("active kernel: " << std::string(kernels::active_sgemm_ukernel().name));
}

}  // namespace tg
