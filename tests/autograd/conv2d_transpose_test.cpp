#include <cmath>

#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

namespace {

Conv2DTransposeOptions options(std::array<int, 2> strides, Padding padding,
                               std::array<int, 2> output_padding = {-1, -1}, std::array<int, 2> dilation = {1, 1}) {
  Conv2DTransposeOptions o;
  o.strides = strides;
  o.padding = padding;
  o.output_padding = output_padding;
  o.dilation = dilation;
  return o;
}

double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += a.flat(i) * b.flat(i);
  return s;
}

}  // namespace

TEST_CASE("conv2d_transpose: Keras's output sizes, by hand") {
  CHECK(conv_transpose_output_size(16, 2, 2, 1, Padding::Same, -1) == 32);   // the U-Net's up-convolution doubles
  CHECK(conv_transpose_output_size(15, 2, 2, 1, Padding::Same, -1) == 30);
  CHECK(conv_transpose_output_size(16, 2, 2, 1, Padding::Valid, -1) == 32);
  CHECK(conv_transpose_output_size(5, 3, 2, 1, Padding::Valid, -1) == 11);   // 5*2 + max(3-2, 0)
  CHECK(conv_transpose_output_size(5, 3, 2, 1, Padding::Same, -1) == 10);
  CHECK(conv_transpose_output_size(5, 1, 3, 1, Padding::Valid, -1) == 15);   // kernel smaller than the stride
  CHECK(conv_transpose_output_size(5, 3, 1, 2, Padding::Valid, -1) == 9);    // effective kernel 5
  CHECK(conv_transpose_output_size(5, 3, 2, 1, Padding::Same, 0) == 9);      // 4*2 + 3 - 2*1 + 0
  CHECK(conv_transpose_output_size(5, 3, 2, 1, Padding::Same, 1) == 10);
  CHECK(conv_transpose_output_size(5, 3, 2, 1, Padding::Valid, 1) == 12);    // 4*2 + 3 + 1
  CHECK(conv_transpose_output_size(5, 4, 2, 1, Padding::Same, 1) == 9);      // 4*2 + 4 - 2*2 + 1

  Variable x(Tensor({2, 5, 7, 3})), k(Tensor({3, 3, 4, 3}));
  CHECK(conv2d_transpose(x, k, Variable(), options({2, 2}, Padding::Same)).shape() == Shape{2, 10, 14, 4});
  CHECK(conv2d_transpose(x, k, Variable(), options({2, 1}, Padding::Valid, {1, 0})).shape() == Shape{2, 12, 9, 4});
  CHECK(conv2d_transpose(x, Variable(Tensor({2, 2, 4, 3})), Variable(), options({2, 2}, Padding::Same)).shape() ==
        Shape{2, 10, 14, 4});
}

TEST_CASE("conv2d_transpose: values by hand") {
  for (DType d : {DType::F32, DType::F64}) {
    Variable x(Tensor::from({1, 2, 3, 4}, {1, 2, 2, 1}, d));
    // 2x2 ones, stride 2, 'same': every input pixel becomes a 2x2 block.
    CHECK(conv2d_transpose(x, Variable(Tensor::ones({2, 2, 1, 1}, d)), Variable(), options({2, 2}, Padding::Same))
              .value()
              .to_vector() == std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
    // 3x3 ones, stride 2: the full output is 5x5 with overlaps on row/column 2; 'same' keeps 4x4 and crops the
    // extra row and column at the bottom/right.
    Variable b(Tensor::from({10}, {1}, d));
    CHECK(conv2d_transpose(x, Variable(Tensor::ones({3, 3, 1, 1}, d)), b, options({2, 2}, Padding::Same))
              .value()
              .to_vector() ==
          std::vector<double>{11, 11, 13, 12, 11, 11, 13, 12, 14, 14, 20, 16, 13, 13, 17, 14});
    // 'valid' keeps all of it.
    CHECK(conv2d_transpose(x, Variable(Tensor::ones({3, 3, 1, 1}, d)), Variable(), options({2, 2}, Padding::Valid))
              .value()
              .to_vector() == std::vector<double>{1, 1, 3, 2, 2, 1, 1, 3, 2, 2, 4, 4, 10, 6, 6,
                                                  3, 3, 7, 4, 4, 3, 3, 7, 4, 4});
  }
}

TEST_CASE("conv2d_transpose: is the adjoint of the matching conv2d") {
  // <conv2d(a, K), b> = <a, conv2d_transpose(b, K)> for every a, b, with the same options.
  struct Case {
    const char* name;
    std::array<int, 2> kernel;
    Conv2DTransposeOptions options;
  };
  const std::vector<Case> cases = {
      {"k2 s2 same", {2, 2}, options({2, 2}, Padding::Same)},
      {"k3 s2 same", {3, 3}, options({2, 2}, Padding::Same)},
      {"k3 s2 valid", {3, 3}, options({2, 2}, Padding::Valid)},
      {"k3 s2 same, output_padding 0 and 1", {3, 3}, options({2, 2}, Padding::Same, {0, 1})},
      {"k4 s2 valid, output_padding 1", {4, 4}, options({2, 2}, Padding::Valid, {1, 1})},
      {"k1 s3 valid", {1, 1}, options({3, 3}, Padding::Valid)},
      {"k3x2 s1x2 dilation 2x1 same", {3, 2}, options({1, 2}, Padding::Same, {-1, -1}, {2, 1})},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const Tensor b = random_tensor({2, 4, 3, 3}, 1), k = random_tensor({c.kernel[0], c.kernel[1], 5, 3}, 2);
    const Variable t = conv2d_transpose(Variable(b), Variable(k), Variable(), c.options);
    const Tensor a = random_tensor(t.shape(), 3);
    Conv2DOptions co;
    co.strides = c.options.strides;
    co.dilation = c.options.dilation;
    co.padding = c.options.padding;
    const Variable y = conv2d(Variable(a), Variable(k), Variable(), co);
    REQUIRE(y.shape() == b.shape());
    const double lhs = dot(y.value(), b), rhs = dot(a, t.value());
    CHECK(std::fabs(lhs - rhs) <= 1e-12 * std::max(1.0, std::fabs(lhs)));
  }
}

TEST_CASE("conv2d_transpose: gradcheck") {
  struct Case {
    const char* name;
    std::array<int, 2> kernel;
    Conv2DTransposeOptions options;
    bool bias;
  };
  const std::vector<Case> cases = {
      {"k2 s2 same, bias", {2, 2}, options({2, 2}, Padding::Same), true},
      {"k3 s2 same", {3, 3}, options({2, 2}, Padding::Same), false},
      {"k3 s2 valid, bias", {3, 3}, options({2, 2}, Padding::Valid), true},
      {"k3 s2 same, output_padding 1x0", {3, 3}, options({2, 2}, Padding::Same, {1, 0}), true},
      {"k4 s2 valid, output_padding 1", {4, 4}, options({2, 2}, Padding::Valid, {1, 1}), false},
      {"k3 s1 same, dilation 2", {3, 3}, options({1, 1}, Padding::Same, {-1, -1}, {2, 2}), true},
      {"k2x3 strides 1x2 valid", {2, 3}, options({1, 2}, Padding::Valid), false},
      {"k1 s1", {1, 1}, options({1, 1}, Padding::Valid), true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const Conv2DTransposeOptions o = c.options;
    std::vector<Tensor> inputs = {random_tensor({2, 3, 4, 2}, 4), random_tensor({c.kernel[0], c.kernel[1], 3, 2}, 5)};
    if (c.bias) inputs.push_back(random_tensor({3}, 6));
    expect_gradcheck(
        [o](const std::vector<Variable>& in) {
          return conv2d_transpose(in[0], in[1], in.size() > 2 ? in[2] : Variable(), o);
        },
        inputs);
  }
}

TEST_CASE("conv2d_transpose: shape errors name the fault") {
  Variable x(Tensor({1, 4, 4, 3}));
  CHECK_THROWS_WITH_AS(
      conv2d_transpose(x, Variable(Tensor({2, 2, 8, 2})), Variable(), {}),
      doctest::Contains("conv2d_transpose: input [1, 4, 4, 3] has 3 channels but kernel [2, 2, 8, 2] expects 2"),
      std::invalid_argument);
  Variable k(Tensor({3, 3, 8, 3}));
  CHECK_THROWS_WITH_AS(conv2d_transpose(x, k, Variable(), options({2, 2}, Padding::Same, {2, 0})),
                       doctest::Contains("output_padding 2 must be smaller than the stride 2"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d_transpose(x, k, Variable(), options({1, 1}, Padding::Explicit)),
                       doctest::Contains("conv2d_transpose: padding must be Valid or Same"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d_transpose(x, k, Variable(), options({0, 1}, Padding::Same)),
                       doctest::Contains("conv2d_transpose: stride must be positive, got 0"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d_transpose(Variable(Tensor({4, 4, 3})), k, Variable(), {}),
                       doctest::Contains("conv2d_transpose: input must be [N, H, W, Cin], got [4, 4, 3]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d_transpose(x, Variable(Tensor({3, 3, 8, 3}, DType::F64)), Variable(), {}),
                       doctest::Contains("conv2d_transpose: input is f32 but kernel is f64"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d_transpose(x, k, Variable(Tensor({3})), {}),
                       doctest::Contains("conv2d_transpose: bias must be [8]"), std::invalid_argument);
}
