#include <omp.h>

#include <cmath>

#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

namespace {

Conv2DOptions conv_options(std::array<int, 2> strides, Padding padding, std::array<int, 2> dilation = {1, 1}) {
  Conv2DOptions o;
  o.strides = strides;
  o.padding = padding;
  o.dilation = dilation;
  return o;
}

// Direct-definition convolution (float64), independent of im2col and GEMM: y[n, oy, ox, co] = b[co] +
// sum x[n, oy*s - pad + ky*d, ox*s - pad + kx*d, ci] w[ky, kx, ci, co] over in-range taps. Returns y, and the
// input and kernel gradients for the upstream gradient gy, by the same sum read backwards. The pads are given by
// each case (worked out by hand), not taken from resolve_padding, the code under test.
struct Reference {
  Tensor y, dx, dw;
};
Reference direct_conv(const Tensor& x, const Tensor& w, const Conv2DOptions& o, const Pad2D& p, const Tensor& gy) {
  const int64_t n = x.dim(0), h = x.dim(1), wd = x.dim(2), ci = x.dim(3);
  const int64_t kh = w.dim(0), kw = w.dim(1), co = w.dim(3);
  const int64_t oh = gy.dim(1), ow = gy.dim(2);
  Reference r{Tensor({n, oh, ow, co}, DType::F64), Tensor(x.shape(), DType::F64), Tensor(w.shape(), DType::F64)};
  const double* px = x.data<double>();
  const double* pw = w.data<double>();
  const double* pg = gy.data<double>();
  double* py = r.y.data<double>();
  double* pdx = r.dx.data<double>();
  double* pdw = r.dw.data<double>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t ky = 0; ky < kh; ++ky)
          for (int64_t kx = 0; kx < kw; ++kx) {
            const int64_t iy = oy * o.strides[0] - p.top + ky * o.dilation[0];
            const int64_t ix = ox * o.strides[1] - p.left + kx * o.dilation[1];
            if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
            for (int64_t c = 0; c < ci; ++c)
              for (int64_t f = 0; f < co; ++f) {
                const int64_t xi = ((b * h + iy) * wd + ix) * ci + c, wi = ((ky * kw + kx) * ci + c) * co + f;
                const int64_t yi = ((b * oh + oy) * ow + ox) * co + f;
                py[yi] += px[xi] * pw[wi];
                pdx[xi] += pg[yi] * pw[wi];
                pdw[wi] += pg[yi] * px[xi];
              }
          }
  return r;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.flat(i) - b.flat(i)));
  return m;
}

}  // namespace

TEST_CASE("conv2d: TensorFlow's 'same' padding table, by hand") {
  CHECK(same_padding_1d(5, 3, 1) == std::array<int, 2>{1, 1});
  CHECK(same_padding_1d(5, 2, 1) == std::array<int, 2>{0, 1});  // even kernel: the extra pixel goes after
  CHECK(same_padding_1d(8, 3, 2) == std::array<int, 2>{0, 1});  // out 4: 3*2 + 3 - 8 = 1
  CHECK(same_padding_1d(7, 3, 2) == std::array<int, 2>{1, 1});  // out 4: 3*2 + 3 - 7 = 2
  CHECK(same_padding_1d(6, 4, 1) == std::array<int, 2>{1, 2});
  CHECK(same_padding_1d(6, 1, 1) == std::array<int, 2>{0, 0});
  CHECK(same_padding_1d(7, 1, 2) == std::array<int, 2>{0, 0});  // out 4: 3*2 + 1 - 7 = 0
  CHECK(same_padding_1d(6, 3, 1, 2) == std::array<int, 2>{2, 2});  // effective kernel 5
  CHECK(same_padding_1d(6, 2, 1, 3) == std::array<int, 2>{1, 2});  // effective kernel 4
  CHECK(same_padding_1d(2, 5, 3) == std::array<int, 2>{1, 2});     // out 1: 0 + 5 - 2 = 3
  CHECK(same_padding_1d(4, 2, 2) == std::array<int, 2>{0, 0});     // the U-Net's 2x2/2 pooling

  CHECK(conv_output_size(8, 3, 2, 1, 0, 0) == 3);
  CHECK(conv_output_size(8, 3, 2, 1, 0, 1) == 4);
  CHECK(conv_output_size(7, 3, 2, 1, 1, 1) == 4);
  CHECK(conv_output_size(6, 3, 1, 2, 0, 0) == 2);
  CHECK(conv_output_size(2, 5, 1, 1, 0, 0) == 0);
  CHECK_THROWS_WITH_AS(conv_output_size(8, 3, 0, 1, 0, 0),
                       doctest::Contains("conv_output_size: stride must be positive"), std::invalid_argument);

  Conv2DOptions o = conv_options({2, 1}, Padding::Same);
  CHECK(resolve_padding(o, 8, 6, 3, 2) == Pad2D{0, 1, 0, 1});
  CHECK(resolve_padding(conv_options({2, 2}, Padding::Valid), 8, 6, 3, 2) == Pad2D{});
  o.padding = Padding::Explicit;
  o.pads = {3, 0, 1, 2};
  CHECK(resolve_padding(o, 8, 6, 3, 2) == Pad2D{3, 0, 1, 2});
  o.pads.top = -1;
  CHECK_THROWS_WITH_AS(resolve_padding(o, 8, 6, 3, 2), doctest::Contains("must not be negative"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(same_padding_1d(5, 3, 0), doctest::Contains("same_padding_1d: stride must be positive"),
                       std::invalid_argument);
}

TEST_CASE("conv2d: values by hand, odd and even kernels with 'same' padding") {
  for (DType d : {DType::F32, DType::F64}) {
    Variable x(Tensor::from({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 3, 3, 1}, d));
    // 3x3 ones: each output is the sum of the 3x3 neighbourhood (zeros outside).
    Variable k3(Tensor::ones({3, 3, 1, 1}, d));
    CHECK(conv2d(x, k3, Variable(), conv_options({1, 1}, Padding::Same)).value().to_vector() ==
          std::vector<double>{12, 21, 16, 27, 45, 33, 24, 39, 28});
    // 2x2 ones, 'same': no padding before, one row/column after, so y[i, j] sums x[i..i+1, j..j+1].
    Variable k2(Tensor::ones({2, 2, 1, 1}, d));
    Variable b(Tensor::from({0.5}, {1}, d));
    CHECK(conv2d(x, k2, b, conv_options({1, 1}, Padding::Same)).value().to_vector() ==
          std::vector<double>{12.5, 16.5, 9.5, 24.5, 28.5, 15.5, 15.5, 17.5, 9.5});
    // Stride 2 on 3x3 with k=3: out 2, total = 1*2 + 3 - 3 = 2, one row/column each side.
    CHECK(conv2d(x, k3, Variable(), conv_options({2, 2}, Padding::Same)).value().to_vector() ==
          std::vector<double>{12, 16, 24, 28});
  }
}

TEST_CASE("conv2d: a kernel larger than the input under 'same', values by hand") {
  // 2x2 input, 4x4 kernel, stride 1: out 2, total = 1 + 4 - 2 = 3, so one row/column before and two after.
  // y[i, j] = sum x[i - 1 + ky, j - 1 + kx] w[ky, kx] over in-range taps, w[ky, kx] = 4 ky + kx + 1.
  for (DType d : {DType::F32, DType::F64}) {
    Variable x(Tensor::from({1, 2, 3, 4}, {1, 2, 2, 1}, d));
    Variable w(Tensor::from({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, {4, 4, 1, 1}, d));
    // y00 = 1*6 + 2*7 + 3*10 + 4*11, y01 = 1*5 + 2*6 + 3*9 + 4*10, y10 = 1*2 + 2*3 + 3*6 + 4*7, y11 = 1*1 + 2*2 + 3*5 + 4*6
    CHECK(conv2d(x, w, Variable(), conv_options({1, 1}, Padding::Same)).value().to_vector() ==
          std::vector<double>{94, 84, 54, 44});
  }
}

TEST_CASE("conv2d: gradcheck over every option that changes the math") {
  struct Case {
    const char* name;
    std::array<int, 2> kernel;
    Conv2DOptions options;
    bool bias;
  };
  Conv2DOptions explicit_pads = conv_options({1, 2}, Padding::Explicit);
  explicit_pads.pads = {1, 0, 2, 1};
  const std::vector<Case> cases = {
      {"k3 s1 same, bias", {3, 3}, conv_options({1, 1}, Padding::Same), true},
      {"k3 s2 valid", {3, 3}, conv_options({2, 2}, Padding::Valid), false},
      {"k3 s2 same (odd and even sizes)", {3, 3}, conv_options({2, 2}, Padding::Same), true},
      {"k2 s1 same", {2, 2}, conv_options({1, 1}, Padding::Same), false},
      {"k4 s2 same", {4, 4}, conv_options({2, 2}, Padding::Same), true},
      {"k2 s2 valid", {2, 2}, conv_options({2, 2}, Padding::Valid), false},
      {"k3 dilation 2 same", {3, 3}, conv_options({1, 1}, Padding::Same, {2, 2}), true},
      {"k3x2 strides 2x1 dilation 1x2 valid", {3, 2}, conv_options({2, 1}, Padding::Valid, {1, 2}), false},
      {"explicit pads, strides 1x2", {3, 3}, explicit_pads, true},
      {"1x1 pointwise", {1, 1}, conv_options({1, 1}, Padding::Valid), true},
      {"1x1 stride 2", {1, 1}, conv_options({2, 2}, Padding::Same), false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const Conv2DOptions o = c.options;
    std::vector<Tensor> inputs = {random_tensor({2, 6, 5, 2}, 1), random_tensor({c.kernel[0], c.kernel[1], 2, 3}, 2)};
    if (c.bias) inputs.push_back(random_tensor({3}, 3));
    expect_gradcheck(
        [o](const std::vector<Variable>& in) { return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Variable(), o); },
        inputs);
  }
}

TEST_CASE("conv2d: im2col chunks (across and within images) agree with the direct definition") {
  struct Case {
    Shape x;
    Conv2DOptions options;
    Pad2D pads;  // TensorFlow's 'same' rule worked out by hand: total = (out - 1) * s + (k - 1) * d + 1 - in
  };
  // These sizes make the bounded im2col workspace split the batch: mid-image, and across images.
  const std::vector<Case> cases = {
      {{1, 70, 70, 64}, conv_options({1, 1}, Padding::Same), {1, 1, 1, 1}},        // total 2 per axis
      {{1, 141, 141, 64}, conv_options({2, 2}, Padding::Same), {1, 1, 1, 1}},      // out 71: 140 + 3 - 141 = 2
      {{3, 50, 40, 64}, conv_options({1, 1}, Padding::Valid), {0, 0, 0, 0}},
      {{2, 60, 64, 64}, conv_options({1, 2}, Padding::Same, {2, 1}), {2, 2, 0, 1}},  // rows: dilated k 5, total 4;
                                                                              // cols: out 32, 62 + 3 - 64 = 1
  };
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.x));
    Variable x(random_tensor(c.x, 4), true), w(random_tensor({3, 3, 64, 4}, 5), true);
    Variable y = conv2d(x, w, Variable(), c.options);
    const Tensor gy = random_tensor(y.shape(), 6);
    const Reference r = direct_conv(x.value(), w.value(), c.options, c.pads, gy);
    y.backward(gy);
    CHECK(max_abs_diff(y.value(), r.y) < 1e-11);
    CHECK(max_abs_diff(x.grad(), r.dx) < 1e-11);
    CHECK(max_abs_diff(w.grad(), r.dw) < 1e-9);
  }
}

TEST_CASE("conv2d: float32 agrees with float64") {
  const Tensor x = random_tensor({2, 9, 8, 5}, 7), w = random_tensor({3, 3, 5, 6}, 8), b = random_tensor({6}, 9);
  const Conv2DOptions o = conv_options({2, 1}, Padding::Same);
  Variable y64 = conv2d(Variable(x), Variable(w), Variable(b), o);
  Variable y32 = conv2d(Variable(x.to(DType::F32)), Variable(w.to(DType::F32)), Variable(b.to(DType::F32)), o);
  CHECK(y32.dtype() == DType::F32);
  CHECK(max_abs_diff(y32.value(), y64.value()) < 1e-5);
}

TEST_CASE("conv2d: shape and dtype errors name the fault") {
  Variable x(Tensor({1, 4, 4, 3})), k(Tensor({3, 3, 2, 8}));
  CHECK_THROWS_WITH_AS(conv2d(x, k, Variable(), {}),
                       doctest::Contains("conv2d: input [1, 4, 4, 3] has 3 channels but kernel [3, 3, 2, 8] expects 2"),
                       std::invalid_argument);
  Variable big(Tensor({5, 5, 3, 8}));
  CHECK_THROWS_WITH_AS(conv2d(x, big, Variable(), {}),
                       doctest::Contains("conv2d: kernel 5x5 (after dilation) is larger than the padded input 4x4"),
                       std::invalid_argument);
  CHECK_NOTHROW(conv2d(x, big, Variable(), conv_options({1, 1}, Padding::Same)));
  CHECK_THROWS_WITH_AS(
      conv2d(x, Variable(Tensor({3, 3, 3, 2})), Variable(), conv_options({1, 1}, Padding::Valid, {2, 2})),
      doctest::Contains("kernel 5x5 (after dilation)"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(Variable(Tensor({4, 4, 3})), k, Variable(), {}),
                       doctest::Contains("conv2d: input must be [N, H, W, Cin], got [4, 4, 3]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(x, Variable(Tensor({3, 3, 3})), Variable(), {}),
                       doctest::Contains("conv2d: kernel must be [kh, kw, Cin, Cout]"), std::invalid_argument);
  Variable k3(Tensor({3, 3, 3, 8}));
  CHECK_THROWS_WITH_AS(conv2d(x, k3, Variable(), conv_options({0, 1}, Padding::Same)),
                       doctest::Contains("conv2d: stride must be positive, got 0"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(x, k3, Variable(), conv_options({1, 1}, Padding::Same, {1, -1})),
                       doctest::Contains("conv2d: dilation must be positive"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(x, Variable(Tensor({3, 3, 3, 8}, DType::F64)), Variable(), {}),
                       doctest::Contains("conv2d: input is f32 but kernel is f64"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(x, k3, Variable(Tensor({4})), {}),
                       doctest::Contains("conv2d: bias must be [8] for kernel [3, 3, 3, 8], got [4]"),
                       std::invalid_argument);
}

TEST_CASE("conv2d and conv2d_transpose: bitwise the same result for any thread count") {
  // Exact resume of training depends on it; Eigen's own parallel GEMM would round differently per thread count.
  struct Case {
    Shape x, kernel;
    std::array<int, 2> strides;
    bool transpose;
  };
  const std::vector<Case> cases = {
      {{2, 64, 64, 32}, {3, 3, 32, 24}, {1, 1}, false},  // many tiles, small kernel: partial kernel-gradient sums
      {{2, 33, 31, 16}, {3, 3, 16, 8}, {2, 2}, false},   // stride 2: GEMM + col2im input gradient
      {{1, 8, 8, 256}, {3, 3, 256, 512}, {1, 1}, false}, // large kernel: chunked, tiled kernel gradient
      {{2, 20, 24, 64}, {1, 1, 64, 40}, {1, 1}, false},  // pointwise
      {{2, 16, 16, 48}, {2, 2, 32, 48}, {2, 2}, true},   // the U-Net's up-convolution
  };
  const int threads = omp_get_max_threads();
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.x));
    auto run = [&](int nthreads) {
      omp_set_num_threads(nthreads);
      Variable x(random_tensor(c.x, 21).to(DType::F32), true), w(random_tensor(c.kernel, 22).to(DType::F32), true);
      Variable y;
      if (c.transpose) {
        Conv2DTransposeOptions o;
        o.strides = c.strides;
        o.padding = Padding::Same;
        y = conv2d_transpose(x, w, Variable(), o);
      } else {
        y = conv2d(x, w, Variable(), conv_options(c.strides, Padding::Same));
      }
      const Tensor out = y.value().clone();
      y.backward(random_tensor(y.shape(), 23).to(DType::F32));
      omp_set_num_threads(threads);
      return std::vector<std::vector<double>>{out.to_vector(), x.grad().to_vector(), w.grad().to_vector()};
    };
    const auto one = run(1), many = run(std::max(3, threads));
    CHECK(one[0] == many[0]);
    CHECK(one[1] == many[1]);
    CHECK(one[2] == many[2]);
  }
}

TEST_CASE("conv2d with the ReLU fused: gradcheck, with and without bias, over strides and padding") {
  struct Case {
    const char* name;
    std::array<int, 2> kernel;
    Conv2DOptions options;
    bool bias;
  };
  const std::vector<Case> cases = {
      {"k3 s1 same, bias", {3, 3}, conv_options({1, 1}, Padding::Same), true},
      {"k3 s1 same, no bias", {3, 3}, conv_options({1, 1}, Padding::Same), false},
      {"k2 s2 valid, bias", {2, 2}, conv_options({2, 2}, Padding::Valid), true},
      {"1x1 pointwise, bias", {1, 1}, conv_options({1, 1}, Padding::Valid), true},
  };
  for (Case c : cases) {
    CAPTURE(c.name);
    c.options.relu = true;
    const Conv2DOptions o = c.options;
    // Inputs away from zero so that no pre-activation lies within the finite-difference step of the ReLU's kink.
    std::vector<Tensor> inputs = {random_tensor({2, 6, 5, 3}, 31), random_tensor({c.kernel[0], c.kernel[1], 3, 4}, 32)};
    if (c.bias) inputs.push_back(random_tensor({4}, 33));
    expect_gradcheck(
        [o](const std::vector<Variable>& in) { return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Variable(), o); },
        inputs);
    // Some outputs are clipped, so the ReLU's gradient is really exercised.
    const Variable y = conv2d(Variable(inputs[0]), Variable(inputs[1]), c.bias ? Variable(inputs[2]) : Variable(), o);
    int64_t zeros = 0;
    for (int64_t i = 0; i < y.value().numel(); ++i) zeros += y.value().data<double>()[i] == 0.0;
    CHECK(zeros > 0);
    CHECK(zeros < y.value().numel());
  }
}

TEST_CASE("conv2d with the ReLU fused: bit for bit relu(conv2d(...)), values and gradients, float32 and float64") {
  for (DType dtype : {DType::F32, DType::F64}) {
    CAPTURE(dtype_name(dtype));
    // 19 channels: tiles at the edge of the output take the kernels' scalar path, the others their vector path.
    const Tensor x = random_tensor({2, 11, 13, 7}, 41).to(dtype), w = random_tensor({3, 3, 7, 19}, 42, -0.5, 0.5).to(dtype);
    const Tensor b = random_tensor({19}, 43).to(dtype);
    Tensor x_nan = x.clone();  // a NaN in the input passes through to the output, as through relu()
    x_nan.set_flat(5, std::nan(""));
    const Tensor gy = random_tensor({2, 11, 13, 19}, 44).to(dtype);
    // Value for an input, then the three gradients for the clean input (a NaN would spread through them all).
    auto run = [&](bool fused, const Tensor& input) {
      Conv2DOptions o = conv_options({1, 1}, Padding::Same);
      o.relu = fused;
      Variable xv(input, true), wv(w, true), bv(b, true);
      Variable y = fused ? conv2d(xv, wv, bv, o) : relu(conv2d(xv, wv, bv, o));
      y.backward(gy);
      return std::vector<Tensor>{y.value(), xv.grad(), wv.grad(), bv.grad()};
    };
    const auto separate_nan = run(false, x_nan), fused_nan = run(true, x_nan);
    // Identical values, NaN for NaN and the sign of zeros included.
    int64_t differ = 0, nans = 0;
    for (int64_t i = 0; i < fused_nan[0].numel(); ++i) {
      const double a = separate_nan[0].flat(i), f = fused_nan[0].flat(i);
      nans += std::isnan(f);
      differ += std::isnan(a) != std::isnan(f) || (!std::isnan(a) && (a != f || std::signbit(a) != std::signbit(f)));
    }
    CHECK(differ == 0);
    CHECK(nans > 0);
    const auto separate = run(false, x), fused = run(true, x);
    for (size_t i = 0; i < separate.size(); ++i) CHECK(separate[i].to_vector() == fused[i].to_vector());
  }
}

TEST_CASE("conv2d_transpose: the fused ReLU is refused with a clear error") {
  Conv2DTransposeOptions o;
  o.relu = true;
  CHECK_THROWS_WITH_AS(conv2d_transpose(Variable(Tensor({1, 4, 4, 3})), Variable(Tensor({2, 2, 5, 3})), Variable(), o),
                       doctest::Contains("conv2d_transpose: the fused ReLU (ConvOptions::relu) is an option of conv2d only"),
                       std::invalid_argument);
}

TEST_CASE("conv2d and conv2d_transpose: every result is written in full (storage left full of NaN is never read)") {
  // The outputs are uninitialised storage (Tensor::empty), which the caching allocator hands back from freed tensors:
  // poison it with NaN first, so an element a kernel failed to write shows up.
  struct Case {
    Shape x, kernel;
    std::array<int, 2> strides;
    bool transpose, relu;
  };
  const std::vector<Case> cases = {
      {{2, 13, 11, 7}, {3, 3, 7, 19}, {1, 1}, false, true},   // the indirect kernels, fused bias and ReLU
      {{2, 13, 11, 7}, {3, 3, 7, 5}, {2, 2}, false, false},   // stride 2: GEMM + col2im input gradient
      {{1, 9, 10, 6}, {1, 1, 6, 3}, {1, 1}, false, false},    // pointwise
      {{2, 40, 40, 16}, {3, 3, 16, 16}, {1, 1}, false, true},  // partial sums of the kernel gradient
      {{2, 6, 7, 8}, {2, 2, 5, 8}, {2, 2}, true, false},      // transpose
  };
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.x));
    for (DType dtype : {DType::F32, DType::F64}) {
      Variable x(random_tensor(c.x, 51).to(dtype), true), w(random_tensor(c.kernel, 52).to(dtype), true);
      Variable b(random_tensor({c.transpose ? c.kernel[2] : c.kernel[3]}, 53).to(dtype), true);
      Conv2DOptions o = conv_options(c.strides, Padding::Same);
      o.relu = c.relu;
      auto forward = [&] { return c.transpose ? conv2d_transpose(x, w, b, o) : conv2d(x, w, b, o); };
      const Shape y_shape = forward().shape();
      {
        std::vector<Tensor> poison;
        for (const Shape& s : {y_shape, y_shape, c.x, c.kernel, Shape{c.kernel[3]}})
          for (int copies = 0; copies < 3; ++copies) poison.push_back(Tensor::full(s, std::nan(""), dtype));
      }
      Variable y = forward();
      y.backward(random_tensor(y_shape, 54).to(dtype));
      for (const Tensor* t : std::vector<const Tensor*>{&y.value(), &x.grad(), &w.grad(), &b.grad()}) {
        int64_t nans = 0;
        for (int64_t i = 0; i < t->numel(); ++i) nans += std::isnan(t->flat(i));
        CHECK(nans == 0);
      }
    }
  }
}
