#include <omp.h>

#include <cmath>
#include <barrier>
#include <cstring>
#include <span>
#include <thread>
#include <vector>

#include "tests/autograd/norm_fixtures.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

namespace {
// Keeps gradcheck's repeated evaluations independent: each call starts from the same moving statistics.
Variable bn_fresh(const Variable& x, const Variable& gamma, const Variable& beta, bool training,
                  const Tensor& mean0, const Tensor& var0) {
  Tensor mm = mean0.clone(), mv = var0.clone();
  return batch_norm(x, gamma, beta, mm, mv, training);
}
}  // namespace

TEST_CASE("batch_norm: gradcheck in training mode through the batch statistics") {
  const Tensor mm = Tensor::zeros({3}, DType::F64), mv = Tensor::ones({3}, DType::F64);
  SUBCASE("scale and center") {
    expect_gradcheck([&](const std::vector<Variable>& in) { return bn_fresh(in[0], in[1], in[2], true, mm, mv); },
                     {random_tensor({2, 2, 3, 3}, 1, -2, 2), random_tensor({3}, 2, 0.5, 1.5), random_tensor({3}, 3)});
  }
  SUBCASE("neither (scale=False, center=False)") {
    expect_gradcheck([&](const std::vector<Variable>& in) { return bn_fresh(in[0], {}, {}, true, mm, mv); },
                     {random_tensor({3, 2, 2, 3}, 4, -2, 2)});
  }
  SUBCASE("scale only and center only") {
    expect_gradcheck([&](const std::vector<Variable>& in) { return bn_fresh(in[0], in[1], {}, true, mm, mv); },
                     {random_tensor({2, 3, 1, 3}, 5, -2, 2), random_tensor({3}, 6, 0.5, 1.5)});
    expect_gradcheck([&](const std::vector<Variable>& in) { return bn_fresh(in[0], {}, in[1], true, mm, mv); },
                     {random_tensor({2, 3, 1, 3}, 7, -2, 2), random_tensor({3}, 8)});
  }
  SUBCASE("a 2-D [batch, features] input") {
    expect_gradcheck([&](const std::vector<Variable>& in) { return bn_fresh(in[0], in[1], in[2], true, mm, mv); },
                     {random_tensor({5, 3}, 9, -2, 2), random_tensor({3}, 10, 0.5, 1.5), random_tensor({3}, 11)});
  }
}

TEST_CASE("batch_norm: gradcheck in inference mode (moving statistics are constants)") {
  const Tensor mm = random_tensor({3}, 12), mv = random_tensor({3}, 13, 0.5, 2.0);
  expect_gradcheck([&](const std::vector<Variable>& in) { return bn_fresh(in[0], in[1], in[2], false, mm, mv); },
                   {random_tensor({2, 2, 2, 3}, 14, -2, 2), random_tensor({3}, 15, 0.5, 1.5), random_tensor({3}, 16)});
  expect_gradcheck([&](const std::vector<Variable>& in) { return bn_fresh(in[0], {}, {}, false, mm, mv); },
                   {random_tensor({2, 2, 2, 3}, 17, -2, 2)});
}

TEST_CASE("batch_norm: hand-computed output and moving statistics after one step, both variance conventions") {
  // Channel 0 holds 1, 2, 3, 4: mean 2.5, biased variance 1.25, Bessel-corrected 5/3.
  // Channel 1 holds 0, 0, 2, 2: mean 1, biased variance 1, Bessel-corrected 4/3.
  const Tensor x = Tensor::from({1, 0, 2, 0, 3, 2, 4, 2}, {4, 1, 1, 2}, DType::F64);
  Variable gamma(Tensor::from({2.0, 0.5}, {2}, DType::F64)), beta(Tensor::from({0.25, -1.0}, {2}, DType::F64));
  BatchNormOptions o;
  o.momentum = 0.9;
  o.epsilon = 1e-3;

  SUBCASE("tf.keras: Bessel-corrected variance feeds the moving average") {
    Tensor mm = Tensor::zeros({2}, DType::F64), mv = Tensor::ones({2}, DType::F64);
    Variable y = batch_norm(Variable(x), gamma, beta, mm, mv, true, o);
    CHECK(mm.flat(0) == doctest::Approx(0.25).epsilon(1e-12));
    CHECK(mm.flat(1) == doctest::Approx(0.1).epsilon(1e-12));
    CHECK(mv.flat(0) == doctest::Approx(0.9 + 0.1 * 5.0 / 3.0).epsilon(1e-12));
    CHECK(mv.flat(1) == doctest::Approx(0.9 + 0.1 * 4.0 / 3.0).epsilon(1e-12));
    // The output itself uses the biased batch variance.
    const double s0 = 2.0 / std::sqrt(1.25 + 1e-3), s1 = 0.5 / std::sqrt(1.0 + 1e-3);
    CHECK(y.value().at({0, 0, 0, 0}) == doctest::Approx((1 - 2.5) * s0 + 0.25).epsilon(1e-12));
    CHECK(y.value().at({3, 0, 0, 0}) == doctest::Approx((4 - 2.5) * s0 + 0.25).epsilon(1e-12));
    CHECK(y.value().at({0, 0, 0, 1}) == doctest::Approx((0 - 1.0) * s1 - 1.0).epsilon(1e-12));
    CHECK(y.value().at({2, 0, 0, 1}) == doctest::Approx((2 - 1.0) * s1 - 1.0).epsilon(1e-12));
  }
  SUBCASE("Keras 3: the biased variance feeds the moving average") {
    o.unbiased_moving_variance = false;
    Tensor mm = Tensor::full({2}, 1.0, DType::F32), mv = Tensor::full({2}, 2.0, DType::F32);
    batch_norm(Variable(x.to(DType::F32)), Variable(gamma.value().to(DType::F32)),
               Variable(beta.value().to(DType::F32)), mm, mv, true, o);
    CHECK(mm.flat(0) == doctest::Approx(0.9 + 0.25).epsilon(1e-6));
    CHECK(mm.flat(1) == doctest::Approx(0.9 + 0.1).epsilon(1e-6));
    CHECK(mv.flat(0) == doctest::Approx(1.8 + 0.125).epsilon(1e-6));
    CHECK(mv.flat(1) == doctest::Approx(1.8 + 0.1).epsilon(1e-6));
  }
}

TEST_CASE("batch_norm: one row per channel: output beta, moving variance fed the zero spread (n - 1 floored at 1)") {
  // A single row has mean = the value and variance 0: y = beta, and the Bessel factor n / (n - 1) would divide by
  // zero, so the moving variance decays towards 0 (times 1 / max(n - 1, 1) = 1), finite.
  const Tensor x = Tensor::from({3.0, -1.5}, {1, 1, 1, 2}, DType::F64);
  Variable gamma(Tensor::from({2.0, 0.5}, {2}, DType::F64)), beta(Tensor::from({0.25, -1.0}, {2}, DType::F64));
  BatchNormOptions o;
  o.momentum = 0.9;
  Tensor mm = Tensor::zeros({2}, DType::F64), mv = Tensor::ones({2}, DType::F64);
  Variable y = batch_norm(Variable(x), gamma, beta, mm, mv, true, o);
  CHECK(y.value().to_vector() == std::vector<double>{0.25, -1.0});
  CHECK(mm.flat(0) == doctest::Approx(0.3).epsilon(1e-12));
  CHECK(mm.flat(1) == doctest::Approx(-0.15).epsilon(1e-12));
  CHECK(mv.to_vector() == std::vector<double>{0.9, 0.9});
  // Two rows: the factor is 2 / 1. Rows 1 and 3: mean 2, biased variance 1, Bessel-corrected 2.
  Tensor mm2 = Tensor::zeros({1}, DType::F64), mv2 = Tensor::ones({1}, DType::F64);
  batch_norm(Variable(Tensor::from({1.0, 3.0}, {2, 1}, DType::F64)), {}, {}, mm2, mv2, true, o);
  CHECK(mv2.flat(0) == doctest::Approx(0.9 + 0.1 * 2.0).epsilon(1e-12));
}

TEST_CASE("batch_norm: inference uses the moving statistics and leaves them alone") {
  Tensor mm = Tensor::from({1.0, -2.0}, {2}, DType::F64), mv = Tensor::from({4.0, 0.25}, {2}, DType::F64);
  const Tensor x = Tensor::from({3.0, 0.0, -1.0, -2.0}, {2, 2}, DType::F64);
  Variable y = batch_norm(Variable(x), {}, {}, mm, mv, false);
  CHECK(y.value().at({0, 0}) == doctest::Approx(2.0 / std::sqrt(4.001)).epsilon(1e-12));
  CHECK(y.value().at({1, 0}) == doctest::Approx(-2.0 / std::sqrt(4.001)).epsilon(1e-12));
  CHECK(y.value().at({0, 1}) == doctest::Approx(2.0 / std::sqrt(0.251)).epsilon(1e-12));
  CHECK(y.value().at({1, 1}) == doctest::Approx(0.0).epsilon(1e-12));
  CHECK(mm.to_vector() == std::vector<double>{1.0, -2.0});
  CHECK(mv.to_vector() == std::vector<double>{4.0, 0.25});
}

TEST_CASE("batch_norm: float32 statistics stay accurate for a large mean and are independent of thread count") {
  // 8192 rows x 64 channels, values 1000 + U[-1, 1): a float32 one-pass E[x^2] - E[x]^2 would lose the variance.
  const Tensor x64 = random_tensor({16, 16, 32, 64}, 21, 999.0, 1001.0);
  const Tensor x32 = x64.to(DType::F32);
  Variable gamma(Tensor::ones({64})), beta(Tensor::zeros({64}));
  BatchNormOptions o;
  o.momentum = 0.0;  // the moving statistics become the batch statistics
  o.unbiased_moving_variance = false;

  auto run = [&](int threads, Tensor& mm, Tensor& mv) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    Variable xv(x32.clone(), true);
    Variable y = batch_norm(xv, gamma, beta, mm, mv, true, o);
    y.backward(Tensor::full(y.shape(), 0.5));
    omp_set_num_threads(saved);
    return std::pair{y.value(), xv.grad()};
  };
  Tensor mm1 = Tensor::zeros({64}), mv1 = Tensor::ones({64}), mm3 = Tensor::zeros({64}), mv3 = Tensor::ones({64});
  auto [y1, gx1] = run(1, mm1, mv1);
  auto [y3, gx3] = run(3, mm3, mv3);
  CHECK(std::memcmp(y1.bytes(), y3.bytes(), y1.nbytes()) == 0);
  CHECK(std::memcmp(gx1.bytes(), gx3.bytes(), gx1.nbytes()) == 0);
  CHECK(mm1.to_vector() == mm3.to_vector());
  CHECK(mv1.to_vector() == mv3.to_vector());

  // Reference moments of the float32 values, in long double.
  const int64_t rows = 16 * 16 * 32;
  for (int64_t j = 0; j < 64; j += 7) {
    long double s = 0, ss = 0;
    for (int64_t r = 0; r < rows; ++r) s += x32.data<float>()[r * 64 + j];
    const long double mean = s / rows;
    for (int64_t r = 0; r < rows; ++r) {
      const long double d = x32.data<float>()[r * 64 + j] - mean;
      ss += d * d;
    }
    CHECK(mm1.flat(j) == doctest::Approx(static_cast<double>(mean)).epsilon(1e-7));
    CHECK(mv1.flat(j) == doctest::Approx(static_cast<double>(ss / rows)).epsilon(1e-5));
  }
}

TEST_CASE("batch_norm: clear errors for wrong shapes") {
  Tensor mm = Tensor::zeros({3}), mv = Tensor::ones({3});
  Variable x(Tensor::zeros({2, 4, 4, 3}));
  CHECK_THROWS_WITH_AS(batch_norm(Variable(Tensor::zeros({3})), {}, {}, mm, mv, true),
                       doctest::Contains("needs at least two axes"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(batch_norm(x, Variable(Tensor::ones({4})), {}, mm, mv, true),
                       doctest::Contains("gamma has shape [4]"), std::invalid_argument);
  Tensor wrong = Tensor::zeros({2});
  CHECK_THROWS_WITH_AS(batch_norm(x, {}, {}, wrong, mv, true), doctest::Contains("moving_mean has shape [2]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(batch_norm(x, {}, Variable(Tensor::zeros({3}, DType::F64)), mm, mv, true),
                       doctest::Contains("beta is f64"), std::invalid_argument);
}

TEST_CASE("batch_norm: float32 forward, backward and moving statistics agree with PyTorch") {
  using namespace tg::testing;
  for (const char* name : {"bn_train", "bn_inference"}) {
    CAPTURE(name);
    const auto& c = norm_fixtures().at(name);
    const bool training = c.at("training").get<bool>();
    BatchNormOptions o;
    o.momentum = c.at("momentum").get<double>();
    o.epsilon = c.at("epsilon").get<double>();
    Variable x(fixture_tensor(c.at("x"), DType::F32), true);
    Variable gamma(fixture_tensor(c.at("gamma"), DType::F32), true), beta(fixture_tensor(c.at("beta"), DType::F32), true);
    Tensor mm = fixture_tensor(c.at("moving_mean"), DType::F32), mv = fixture_tensor(c.at("moving_variance"), DType::F32);
    Variable y = batch_norm(x, gamma, beta, mm, mv, training, o);
    y.backward(fixture_tensor(c.at("grad_output"), DType::F32));
    expect_close(y.value(), c.at("y"), "y");
    expect_close(x.grad(), c.at("dx"), "dx");
    expect_close(gamma.grad(), c.at("dgamma"), "dgamma");
    expect_close(beta.grad(), c.at("dbeta"), "dbeta");
    expect_close(mm, c.at("moving_mean_after"), "moving_mean");
    expect_close(mv, c.at("moving_variance_after"), "moving_variance");
    if (training) {
      o.unbiased_moving_variance = false;
      Tensor mm3 = fixture_tensor(c.at("moving_mean"), DType::F32), mv3 = fixture_tensor(c.at("moving_variance"), DType::F32);
      batch_norm(Variable(x.value()), gamma, beta, mm3, mv3, true, o);
      expect_close(mv3, c.at("moving_variance_after_biased"), "moving_variance (Keras 3)");
    }
  }
}

// ---- statistics over a batch split among replicas (autograd/batch_parts.h, --sync-bn) ----------------------------

namespace {

struct BnResult {
  Tensor y, dx, dgamma, dbeta, moving_mean, moving_variance;
};

// batch_norm in training on x (its share of the batch, per `parts`; null: the whole batch), then backward from the
// fixed upstream gradient `dy`. gamma and beta are this call's own leaves, so replicas on threads share nothing.
BnResult bn_step(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& dy, const BatchParts* parts) {
  Variable xv(x.clone(), true), gv(gamma.clone(), true), bv(beta.clone(), true);
  BnResult r{{}, {}, {}, {}, Tensor::zeros({x.dim(-1)}, x.dtype()), Tensor::ones({x.dim(-1)}, x.dtype())};
  BatchNormOptions o;
  o.momentum = 0.5;
  Variable y = batch_norm(xv, gv, bv, r.moving_mean, r.moving_variance, true, o, parts);
  y.backward(dy);
  r.y = y.value();
  r.dx = xv.grad();
  r.dgamma = gv.grad();
  r.dbeta = bv.grad();
  return r;
}

// Replicas on threads: each sum() waits for every replica's values and returns replica 0's + replica 1's + ...
class ThreadReplicas {
 public:
  explicit ThreadReplicas(int count) : spans_(static_cast<size_t>(count)), barrier_(count) {}
  class Member final : public ReplicaSum {
   public:
    Member(ThreadReplicas& group, int rank) : group_(group), rank_(rank) {}
    void sum(std::span<double> values) override {
      group_.spans_[static_cast<size_t>(rank_)] = values;
      group_.barrier_.arrive_and_wait();  // every replica's values are in place
      std::vector<double> total(values.size(), 0.0);
      for (const std::span<double> s : group_.spans_) {
        REQUIRE(s.size() == values.size());
        for (size_t i = 0; i < s.size(); ++i) total[i] += s[i];
      }
      group_.barrier_.arrive_and_wait();  // every replica has read them all
      std::copy(total.begin(), total.end(), values.begin());
      ++calls;
    }
    int calls = 0;

   private:
    ThreadReplicas& group_;
    int rank_;
  };

 private:
  std::vector<std::span<double>> spans_;
  std::barrier<> barrier_;
};

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.bytes(), b.bytes(), a.nbytes()) == 0;
}

void check_close(const Tensor& a, const Tensor& b, const char* what) {
  REQUIRE(a.shape() == b.shape());
  for (int64_t i = 0; i < a.numel(); ++i)
    REQUIRE_MESSAGE(std::fabs(a.flat(i) - b.flat(i)) <= 1e-12 * std::max(1.0, std::fabs(b.flat(i))),
                    what << "[" << i << "]: " << a.flat(i) << " vs the whole batch's " << b.flat(i));
}

}  // namespace

TEST_CASE("batch_norm with parts: the whole batch's output, moving statistics and gradients, and gradcheck") {
  // A large mean against the spread, so combining the parts' moments must not cancel (Chan's update does not).
  const Tensor x = random_tensor({5, 2, 3, 3}, 31, 99.0, 101.0), gamma = random_tensor({3}, 32, 0.5, 1.5);
  const Tensor beta = random_tensor({3}, 33), dy = random_tensor({5, 2, 3, 3}, 34);
  const BnResult whole = bn_step(x, gamma, beta, dy, nullptr);
  // Even parts, uneven parts, and an empty part (a last batch smaller than the part count).
  for (const std::vector<int64_t>& bounds :
       {std::vector<int64_t>{0, 2, 5}, std::vector<int64_t>{0, 1, 4, 5}, std::vector<int64_t>{0, 3, 3, 5}}) {
    CAPTURE(bounds.size());
    const BatchParts parts{static_cast<int64_t>(bounds.size()) - 1, 0, bounds, nullptr};
    const BnResult split = bn_step(x, gamma, beta, dy, &parts);
    check_close(split.y, whole.y, "y");
    check_close(split.dx, whole.dx, "dx");
    check_close(split.dgamma, whole.dgamma, "dgamma");
    check_close(split.dbeta, whole.dbeta, "dbeta");
    check_close(split.moving_mean, whole.moving_mean, "moving_mean");
    check_close(split.moving_variance, whole.moving_variance, "moving_variance");  // n / (n - 1) of the whole batch
  }
  const BatchParts parts{2, 0, {0, 1, 3}, nullptr};
  const Tensor mm = Tensor::zeros({3}, DType::F64), mv = Tensor::ones({3}, DType::F64);
  expect_gradcheck(
      [&](const std::vector<Variable>& in) {
        Tensor m = mm.clone(), v = mv.clone();
        return batch_norm(in[0], in[1], in[2], m, v, true, {}, &parts);
      },
      {random_tensor({3, 2, 2, 3}, 35, -2, 2), random_tensor({3}, 36, 0.5, 1.5), random_tensor({3}, 37)});
}

TEST_CASE("batch_norm across two replicas (threads): the bits of one replica holding both parts") {
  const Tensor x = random_tensor({4, 3, 2, 5}, 41, -3, 3), gamma = random_tensor({5}, 42, 0.5, 1.5);
  const Tensor beta = random_tensor({5}, 43), dy = random_tensor({4, 3, 2, 5}, 44);
  const BatchParts both{2, 0, {0, 1, 4}, nullptr};  // uneven: 1 sample and 3
  const BnResult one = bn_step(x, gamma, beta, dy, &both);

  ThreadReplicas group(2);
  ThreadReplicas::Member member0(group, 0), member1(group, 1);
  const BatchParts part0{2, 0, {0, 1}, &member0}, part1{2, 1, {0, 3}, &member1};
  BnResult r0, r1;
  std::thread t0([&] { r0 = bn_step(x.slice(0, 1).clone(), gamma, beta, dy.slice(0, 1).clone(), &part0); });
  std::thread t1([&] { r1 = bn_step(x.slice(1, 4).clone(), gamma, beta, dy.slice(1, 4).clone(), &part1); });
  t0.join();
  t1.join();
  CHECK(member0.calls == 2);  // the statistics in forward, sum(dy) and sum(dy * xhat) in backward
  CHECK(member1.calls == 2);
  CHECK(same_bits(r0.y, one.y.slice(0, 1).clone()));
  CHECK(same_bits(r1.y, one.y.slice(1, 4).clone()));
  CHECK(same_bits(r0.dx, one.dx.slice(0, 1).clone()));
  CHECK(same_bits(r1.dx, one.dx.slice(1, 4).clone()));
  for (const BnResult* r : {&r0, &r1}) {
    CHECK(same_bits(r->moving_mean, one.moving_mean));
    CHECK(same_bits(r->moving_variance, one.moving_variance));
  }
  // gamma's and beta's gradients stay each replica's share; their sum is the whole batch's (as the trainer sums).
  for (int64_t j = 0; j < 5; ++j) {
    CHECK(r0.dgamma.flat(j) + r1.dgamma.flat(j) == one.dgamma.flat(j));
    CHECK(r0.dbeta.flat(j) + r1.dbeta.flat(j) == one.dbeta.flat(j));
  }
  // and the replicas' own statistics would have been another normalisation altogether
  const BnResult local = bn_step(x.slice(1, 4).clone(), gamma, beta, dy.slice(1, 4).clone(), nullptr);
  CHECK_FALSE(same_bits(local.dx, r1.dx));
}

TEST_CASE("batch_norm with parts: inference ignores them, and parts that do not cover the batch are refused") {
  const Tensor x = random_tensor({2, 2, 3}, 51);
  Tensor mm = Tensor::zeros({3}, DType::F64), mv = Tensor::ones({3}, DType::F64);
  ThreadReplicas group(2);  // would wait forever if inference called it
  ThreadReplicas::Member member(group, 0);
  const BatchParts parts{2, 0, {0, 2}, &member};
  const Variable y = batch_norm(Variable(x), {}, {}, mm, mv, false, {}, &parts);
  CHECK(same_bits(y.value(), batch_norm(Variable(x), {}, {}, mm, mv, false).value()));
  const BatchParts short_parts{2, 0, {0, 1}, nullptr};
  CHECK_THROWS_WITH_AS(batch_norm(Variable(x), {}, {}, mm, mv, true, {}, &short_parts),
                       doctest::Contains("do not cover the input"), std::invalid_argument);
}
