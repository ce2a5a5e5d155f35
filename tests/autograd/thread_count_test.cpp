// Bit-identical results for any thread count (README), op by op: every reduction is cut into a fixed number of
// chunks, never one per thread. Each case is sized past the ops' parallel thresholds, in float32 (where a
// different summation order shows in the last bits), and run at 1, 2 and 3 threads.
#include <omp.h>

#include <functional>

#include "autograd/kernels/deterministic_sums.h"
#include "tests/autograd/test_util.h"

using namespace tg;
using tg::testing::random_tensor;

namespace {

using Outputs = std::vector<std::vector<double>>;

// Runs `f` with omp_set_num_threads(n) for n = 1, 2, 3 and checks that every output is the same, bit for bit.
void check_thread_independent(const std::function<Outputs()>& f) {
  const int saved = omp_get_max_threads();
  std::vector<Outputs> runs;
  for (int n : {1, 2, 3}) {
    omp_set_num_threads(n);
    runs.push_back(f());
  }
  omp_set_num_threads(saved);
  REQUIRE(runs[0].size() == runs[1].size());
  for (size_t i = 0; i < runs[0].size(); ++i) {
    CAPTURE(i);
    REQUIRE(!runs[0][i].empty());
    CHECK(runs[0][i] == runs[1][i]);
    CHECK(runs[0][i] == runs[2][i]);
  }
}

Tensor f32(Shape shape, uint64_t seed) { return random_tensor(std::move(shape), seed).to(DType::F32); }

// The input's, kernel's and bias's gradients after backward with a fixed upstream gradient, and the output.
Outputs forward_backward(const std::function<Variable(const std::vector<Variable>&)>& op, std::vector<Tensor> inputs,
                         uint64_t seed) {
  std::vector<Variable> vars;
  for (Tensor& t : inputs) vars.emplace_back(t, true);
  Variable y = op(vars);
  Outputs out{y.value().to_vector()};
  y.backward(f32(y.shape(), seed));
  for (const Variable& v : vars) out.push_back(v.grad().to_vector());
  return out;
}

}  // namespace

TEST_CASE("threads: the reduction kernels (column_sums, ordered_sum, chunked_sums) do not depend on the thread count") {
  const Tensor x = f32({3000, 40}, 1);  // 120,000 elements: past the 32,768 threshold
  check_thread_independent([&] {
    std::vector<float> cols(40);
    kernels::column_sums(x.data<float>(), 3000, 40, cols.data());
    const float* p = x.data<float>();
    const double total = kernels::ordered_sum(x.numel(), [p](int64_t i) { return static_cast<double>(p[i]) * 1e-3; });
    std::vector<double> sums(2);
    kernels::chunked_sums(3000, 2, sums.data(), [p](int64_t r, double* acc) {
      for (int64_t j = 0; j < 40; ++j) {
        acc[0] += p[r * 40 + j];
        acc[1] += static_cast<double>(p[r * 40 + j]) * p[r * 40 + j];
      }
    }, 40);
    return Outputs{std::vector<double>(cols.begin(), cols.end()), {total}, sums};
  });
}

TEST_CASE("threads: bias gradients of conv2d and conv2d_transpose, and a broadcast add's gradient") {
  check_thread_independent([] {
    Conv2DOptions o;
    o.padding = Padding::Same;
    return forward_backward([o](const auto& v) { return conv2d(v[0], v[1], v[2], o); },
                            {f32({2, 48, 40, 8}, 2), f32({3, 3, 8, 24}, 3), f32({24}, 4)}, 5);
  });
  check_thread_independent([] {
    Conv2DTransposeOptions o;
    o.strides = {2, 2};
    o.padding = Padding::Same;
    return forward_backward([o](const auto& v) { return conv2d_transpose(v[0], v[1], v[2], o); },
                            {f32({2, 24, 20, 16}, 6), f32({2, 2, 24, 16}, 7), f32({24}, 8)}, 9);
  });
  check_thread_independent([] {  // [4000, 30] + [30]: the bias gradient sums 4000 rows
    return forward_backward([](const auto& v) { return add(v[0], v[1]); }, {f32({4000, 30}, 10), f32({30}, 11)}, 12);
  });
  check_thread_independent([] {  // a per-channel scale of a rank-4 activation
    return forward_backward([](const auto& v) { return mul(v[0], v[1]); }, {f32({2, 64, 64, 12}, 13), f32({12}, 14)}, 15);
  });
}

TEST_CASE("threads: sum and mean (ordered_sum), whole and along an axis") {
  check_thread_independent([] {
    return forward_backward([](const auto& v) { return sum(v[0]); }, {f32({300, 500}, 16)}, 17);
  });
  check_thread_independent([] {
    return forward_backward([](const auto& v) { return mean(v[0]); }, {f32({2, 96, 96, 4}, 18)}, 19);
  });
  check_thread_independent([] {
    return forward_backward([](const auto& v) { return sum(v[0], 0); }, {f32({5000, 16}, 20)}, 21);
  });
}

TEST_CASE("threads: pooling and upsampling, forward and backward") {
  for (Padding padding : {Padding::Valid, Padding::Same}) {
    Pool2DOptions o;
    o.pool_size = {3, 3};
    o.strides = {2, 2};  // overlapping windows: one input cell receives gradient from several outputs
    o.padding = padding;
    check_thread_independent([o] {
      return forward_backward([o](const auto& v) { return max_pool2d(v[0], o); }, {f32({2, 65, 63, 16}, 22)}, 23);
    });
    check_thread_independent([o] {
      return forward_backward([o](const auto& v) { return avg_pool2d(v[0], o); }, {f32({2, 65, 63, 16}, 24)}, 25);
    });
  }
  for (Padding padding : {Padding::Valid, Padding::Same}) {
    Pool2DOptions o;  // 2x2, the U-Net's: windows tile the input (odd sizes leave a row and a column over)
    o.padding = padding;
    check_thread_independent([o] {
      return forward_backward([o](const auto& v) { return max_pool2d(v[0], o); }, {f32({2, 65, 63, 16}, 28)}, 29);
    });
  }
  for (Interpolation mode : {Interpolation::Nearest, Interpolation::Bilinear})
    check_thread_independent([mode] {
      return forward_backward([mode](const auto& v) { return upsample2d(v[0], {2, 3}, mode); },
                              {f32({2, 40, 36, 16}, 26)}, 27);
    });
}
