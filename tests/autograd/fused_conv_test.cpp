// The fused decoder convolutions (concat_conv2d, upsample2x_conv2d) against the pairs of ops they replace:
// concat + conv2d and upsample2d(nearest) + conv2d, on random shapes with odd sizes, channel counts that are not
// multiples of the vector width and batches above 1; their float64 gradients by finite differences; the same bits
// for any thread count. Named "conv ..." so that the ctest run on the portable micro-kernel (TAPEGRAD_ISA=generic,
// tests/CMakeLists.txt) covers them too.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

namespace {

using Op = std::function<Variable(const std::vector<Variable>&)>;

// The output, then the gradient of every input, after backward with the upstream gradient gy.
std::vector<Tensor> forward_backward(const Op& op, const std::vector<Tensor>& inputs, const Tensor& gy) {
  std::vector<Variable> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t.clone(), true);
  Variable y = op(vars);
  y.backward(gy.to(y.dtype()));
  std::vector<Tensor> out{y.value()};
  for (const Variable& v : vars) out.push_back(v.grad());
  return out;
}

// max |a - b| over max |b|: the difference relative to the result's scale.
double relative_difference(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    REQUIRE(std::isfinite(a.flat(i)));
    diff = std::max(diff, std::abs(a.flat(i) - b.flat(i)));
    scale = std::max(scale, std::abs(b.flat(i)));
  }
  return diff / std::max(scale, 1e-30);
}

// Fused and unfused give the same output and gradients: within float32 rounding, or float64's.
void check_same_as_unfused(const Op& fused, const Op& unfused, const std::vector<Tensor>& inputs, DType dtype,
                           uint64_t seed) {
  std::vector<Tensor> typed;
  for (const Tensor& t : inputs) typed.push_back(t.to(dtype));
  const Tensor y = unfused([&] {
                     std::vector<Variable> v;
                     for (const Tensor& t : typed) v.emplace_back(t);
                     return v;
                   }()).value();
  const Tensor gy = random_tensor(y.shape(), seed);
  const std::vector<Tensor> a = forward_backward(fused, typed, gy), b = forward_backward(unfused, typed, gy);
  const double tolerance = dtype == DType::F32 ? 1e-5 : 1e-12;
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);  // 0: the output; then the inputs' gradients in order
    CHECK(relative_difference(a[i], b[i]) < tolerance);
  }
}

// Bit-identical results at 1, 2 and 3 threads (float32).
void check_thread_independent(const Op& op, const std::vector<Tensor>& inputs, uint64_t seed) {
  std::vector<Tensor> f32;
  for (const Tensor& t : inputs) f32.push_back(t.to(DType::F32));
  const int saved = omp_get_max_threads();
  std::vector<std::vector<Tensor>> runs;
  for (int n : {1, 2, 3}) {
    omp_set_num_threads(n);
    std::vector<Variable> v;
    for (const Tensor& t : f32) v.emplace_back(t);
    const Tensor gy = random_tensor(op(v).shape(), seed);
    runs.push_back(forward_backward(op, f32, gy));
  }
  omp_set_num_threads(saved);
  for (size_t i = 0; i < runs[0].size(); ++i) {
    CAPTURE(i);
    CHECK(runs[0][i].to_vector() == runs[1][i].to_vector());
    CHECK(runs[0][i].to_vector() == runs[2][i].to_vector());
  }
}

struct ConcatCase {
  std::vector<int64_t> channels;  // of each part
  int64_t batch, h, w, out_c;
  std::array<int, 2> kernel, strides;
  Padding padding;
  bool relu, bias;
};

const std::vector<ConcatCase>& concat_cases() {
  static const std::vector<ConcatCase> cases = {
      {{5, 3}, 2, 7, 9, 6, {3, 3}, {1, 1}, Padding::Same, true, true},
      {{16, 16}, 2, 11, 5, 16, {3, 3}, {1, 1}, Padding::Same, true, true},  // the U-Net's shape of join
      {{7, 9, 2}, 3, 6, 7, 11, {3, 3}, {1, 1}, Padding::Valid, false, true},
      {{4, 13}, 2, 9, 8, 5, {1, 1}, {1, 1}, Padding::Valid, false, false},
      {{6, 3}, 2, 9, 7, 10, {2, 2}, {2, 2}, Padding::Same, true, false},
      {{64, 70}, 2, 6, 10, 24, {3, 3}, {1, 1}, Padding::Same, true, true},  // wide enough for Winograd (auto policy)
  };
  return cases;
}

// The inputs of a case: the parts, the kernel, and the bias when it has one.
std::vector<Tensor> concat_inputs(const ConcatCase& c, uint64_t seed) {
  std::vector<Tensor> t;
  int64_t channels = 0;
  for (int64_t ch : c.channels) t.push_back(random_tensor({c.batch, c.h, c.w, ch}, seed++)), channels += ch;
  t.push_back(random_tensor({c.kernel[0], c.kernel[1], channels, c.out_c}, seed++, -0.3, 0.3));
  if (c.bias) t.push_back(random_tensor({c.out_c}, seed++));
  return t;
}

ConvOptions concat_options(const ConcatCase& c) {
  ConvOptions o;
  o.strides = c.strides;
  o.padding = c.padding;
  o.relu = c.relu;
  return o;
}

Op fused_concat(const ConcatCase& c) {
  return [c](const std::vector<Variable>& v) {
    const size_t parts = c.channels.size();
    return concat_conv2d({v.begin(), v.begin() + static_cast<std::ptrdiff_t>(parts)}, v[parts],
                         c.bias ? v[parts + 1] : Variable(), concat_options(c));
  };
}

Op unfused_concat(const ConcatCase& c) {
  return [c](const std::vector<Variable>& v) {
    const size_t parts = c.channels.size();
    return conv2d(concat({v.begin(), v.begin() + static_cast<std::ptrdiff_t>(parts)}, 3), v[parts],
                  c.bias ? v[parts + 1] : Variable(), concat_options(c));
  };
}

struct UpsampleCase {
  int64_t batch, h, w, in_c, out_c;
  bool relu, bias;
};

const std::vector<UpsampleCase>& upsample_cases() {
  static const std::vector<UpsampleCase> cases = {
      {2, 5, 7, 3, 5, true, true},   {3, 4, 3, 17, 9, false, true}, {2, 7, 6, 32, 16, true, true},
      {1, 1, 1, 4, 3, true, false},  {2, 3, 13, 9, 33, true, true}, {2, 6, 5, 40, 20, false, false},
  };
  return cases;
}

std::vector<Tensor> upsample_inputs(const UpsampleCase& c, uint64_t seed) {
  std::vector<Tensor> t{random_tensor({c.batch, c.h, c.w, c.in_c}, seed),
                        random_tensor({2, 2, c.in_c, c.out_c}, seed + 1, -0.4, 0.4)};
  if (c.bias) t.push_back(random_tensor({c.out_c}, seed + 2));
  return t;
}

Op fused_upsample(const UpsampleCase& c) {
  return [c](const std::vector<Variable>& v) { return upsample2x_conv2d(v[0], v[1], c.bias ? v[2] : Variable(), c.relu); };
}

Op unfused_upsample(const UpsampleCase& c) {
  return [c](const std::vector<Variable>& v) {
    ConvOptions o;
    o.padding = Padding::Same;
    o.relu = c.relu;
    return conv2d(upsample2d(v[0], {2, 2}, Interpolation::Nearest), v[1], c.bias ? v[2] : Variable(), o);
  };
}

}  // namespace

TEST_CASE("conv fused: concat_conv2d equals concat + conv2d (float32 and float64)") {
  uint64_t seed = 100;
  for (const ConcatCase& c : concat_cases()) {
    CAPTURE(c.channels.size());
    CAPTURE(c.channels[0]);
    CAPTURE(c.out_c);
    for (DType dtype : {DType::F32, DType::F64}) {
      CAPTURE(dtype_name(dtype));
      check_same_as_unfused(fused_concat(c), unfused_concat(c), concat_inputs(c, seed), dtype, seed + 50);
    }
    seed += 10;
  }
}

TEST_CASE("conv fused: concat_conv2d's gradients match finite differences (float64)") {
  for (const ConcatCase& c : {ConcatCase{{3, 2}, 2, 5, 4, 3, {3, 3}, {1, 1}, Padding::Same, true, true},
                              ConcatCase{{2, 1, 3}, 2, 4, 5, 2, {2, 2}, {1, 1}, Padding::Same, false, true},
                              ConcatCase{{2, 3}, 1, 6, 5, 4, {3, 3}, {2, 2}, Padding::Valid, false, false}}) {
    CAPTURE(c.channels.size());
    expect_gradcheck(fused_concat(c), concat_inputs(c, 7));
  }
}

TEST_CASE("conv fused: concat_conv2d gives the same bits on 1, 2 and 3 threads") {
  for (const ConcatCase& c : {concat_cases()[1], concat_cases()[5],
                              ConcatCase{{16, 16}, 2, 40, 36, 16, {3, 3}, {1, 1}, Padding::Same, true, true}})
    check_thread_independent(fused_concat(c), concat_inputs(c, 21), 22);
}

TEST_CASE("conv fused: concat_conv2d refuses inputs that cannot be joined, naming them") {
  const Variable a(Tensor({2, 4, 4, 3})), b(Tensor({2, 4, 5, 3})), k(Tensor({3, 3, 6, 2}));
  CHECK_THROWS_WITH_AS(concat_conv2d({a, b}, k, Variable(), {}),
                       doctest::Contains("concat_conv2d: input 1 ([2, 4, 5, 3] f32) cannot be joined along "
                                         "channels with input 0 ([2, 4, 4, 3] f32)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(concat_conv2d({a, a, a}, k, Variable(), {}), doctest::Contains("has 9 channels"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(concat_conv2d({}, k, Variable(), {}), doctest::Contains("needs at least one input"),
                       std::invalid_argument);
}

TEST_CASE("conv fused: upsample2x_conv2d equals upsample2d(nearest) + conv2d 2x2 'same' (float32 and float64)") {
  uint64_t seed = 300;
  for (const UpsampleCase& c : upsample_cases()) {
    CAPTURE(c.h);
    CAPTURE(c.w);
    CAPTURE(c.in_c);
    CAPTURE(c.out_c);
    for (DType dtype : {DType::F32, DType::F64}) {
      CAPTURE(dtype_name(dtype));
      check_same_as_unfused(fused_upsample(c), unfused_upsample(c), upsample_inputs(c, seed), dtype, seed + 5);
    }
    seed += 10;
  }
}

TEST_CASE("conv fused: upsample2x_conv2d's gradients match finite differences (float64)") {
  for (const UpsampleCase& c : {UpsampleCase{2, 3, 4, 3, 2, true, true}, UpsampleCase{1, 4, 3, 2, 3, false, true},
                                UpsampleCase{2, 1, 2, 3, 2, false, false}}) {
    CAPTURE(c.h);
    expect_gradcheck(fused_upsample(c), upsample_inputs(c, 9));
  }
}

TEST_CASE("conv fused: upsample2x_conv2d gives the same bits on 1, 2 and 3 threads") {
  for (const UpsampleCase& c : {upsample_cases()[2], UpsampleCase{2, 24, 20, 32, 16, true, true}})
    check_thread_independent(fused_upsample(c), upsample_inputs(c, 31), 32);
}

TEST_CASE("conv fused: upsample2x_conv2d refuses a kernel that is not 2x2 or does not fit, naming it") {
  const Variable x(Tensor({2, 4, 4, 3}));
  CHECK_THROWS_WITH_AS(upsample2x_conv2d(x, Variable(Tensor({3, 3, 3, 2})), Variable(), true),
                       doctest::Contains("upsample2x_conv2d: kernel must be 2x2 [2, 2, Cin, Cout], got [3, 3, 3, 2]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(upsample2x_conv2d(x, Variable(Tensor({2, 2, 5, 2})), Variable(), true),
                       doctest::Contains("has 3 channels"), std::invalid_argument);
}
