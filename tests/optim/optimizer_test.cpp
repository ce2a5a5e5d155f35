#include <cmath>
#include <cstring>

#include "tests/optim/optim_test_util.h"

using namespace tg;
using namespace tg::testing;

namespace {
// Replays one fixture case step by step and compares every weight after every step.
void check_case(const std::string& name) {
  INFO("fixture case " << name);
  const nlohmann::json& c = optim_fixtures().at(name);
  Quadratic q(c);
  std::unique_ptr<Optimizer> opt = make_optimizer(c.at("optimizer"), q.params);
  const int steps = c.at("steps").get<int>();
  for (int s = 0; s < steps; ++s) {
    if (c.contains("learning_rates")) CHECK(std::fabs(opt->learning_rate() - c["learning_rates"][s].get<double>()) < 1e-15);
    opt->zero_grad();
    q.compute_gradients();
    opt->step();
    for (size_t i = 0; i < q.params.size(); ++i) {
      INFO("step " << s + 1 << ", parameter " << q.params[i].name);
      // float64 all the way: the trajectories agree to a few ulps (2e-16 measured); 1e-13 leaves room for
      // reordered arithmetic, where 1e-7 hid an epsilon placed the PyTorch way (4e-8 off with the defaults).
      CHECK(max_abs_diff(q.params[i].variable.value(), fixture_tensor(c["expected"][s][i])) < 1e-13);
    }
  }
  CHECK(opt->iterations() == steps);
}
}  // namespace

TEST_CASE("optim: Adam and AdamW with epsilon 0 follow PyTorch's Adam/AdamW step by step") {
  check_case("torch_adam_eps0");
  check_case("torch_adam_amsgrad_eps0");
  check_case("torch_adamw_eps0");
}

TEST_CASE("optim: SGD, momentum and Nesterov follow PyTorch's SGD at a constant learning rate") {
  check_case("torch_sgd");
  check_case("torch_sgd_momentum");
  check_case("torch_sgd_nesterov");
}

TEST_CASE("optim: Adam and AdamW follow Keras's formulas (epsilon hat, decoupled decay, defaults)") {
  check_case("keras_adam_defaults");
  check_case("keras_adam_large_eps");
  check_case("keras_adamw_defaults");
  check_case("keras_adamw_decay");
}

TEST_CASE("optim: schedules and global-norm clipping inside the update match Keras's formulas") {
  check_case("keras_adam_clip_cosine_warmup");
  check_case("keras_sgd_momentum_step_decay");
  check_case("keras_sgd_nesterov_step_decay_clip");
}

TEST_CASE("optim: Keras defaults") {
  Adam adam({});
  CHECK(adam.options().learning_rate == 1e-3);
  CHECK(adam.options().beta_1 == 0.9);
  CHECK(adam.options().beta_2 == 0.999);
  CHECK(adam.options().epsilon == 1e-7);
  AdamW adamw({});
  CHECK(adamw.options().weight_decay == 0.004);
  SGD sgd({});
  CHECK(sgd.options().learning_rate == 0.01);
  CHECK(sgd.options().momentum == 0.0);
  CHECK_FALSE(sgd.options().nesterov);
}

TEST_CASE("optim: Adam's first step by hand: every element moves by lr (times sign), epsilon hat included") {
  // t = 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1, so the step is lr * |g| / (|g| + eps / sqrt(0.001)).
  Variable w(Tensor::from({1.0, -2.0, 0.5}, {3}, DType::F64), true);
  w.node()->accumulate_grad(Tensor::from({0.5, -3.0, 1e-6}, {3}, DType::F64));
  Adam adam({{"w", w}}, {{.learning_rate = 0.1}});
  adam.step();
  const double e = 1e-7 / std::sqrt(0.001);
  CHECK(w.value().flat(0) == doctest::Approx(1.0 - 0.1 * 0.5 / (0.5 + e)).epsilon(1e-14));
  CHECK(w.value().flat(1) == doctest::Approx(-2.0 + 0.1 * 3.0 / (3.0 + e)).epsilon(1e-14));
  CHECK(w.value().flat(2) == doctest::Approx(0.5 - 0.1 * 1e-6 / (1e-6 + e)).epsilon(1e-14));
}

TEST_CASE("optim: parameters without a gradient are left alone, weight decay honours exclusions") {
  Variable a(Tensor::from({1.0, 2.0}, {2}, DType::F64), true);
  Variable b(Tensor::from({3.0}, {1}, DType::F64), true);
  Variable bias(Tensor::from({4.0}, {1}, DType::F64), true);
  SGDOptions options;
  options.learning_rate = 0.5;
  options.weight_decay = 0.1;
  options.exclude_from_weight_decay = {"bias"};
  SGD sgd({{"a", a}, {"b", b}, {"dense/bias", bias}}, options);
  a.node()->accumulate_grad(Tensor::from({1.0, 1.0}, {2}, DType::F64));
  bias.node()->accumulate_grad(Tensor::from({0.0}, {1}, DType::F64));
  sgd.step();
  // a: decayed by (1 - 0.1 * 0.5) then -0.5 * g.  b: no gradient.  bias: excluded from decay, zero gradient.
  CHECK(a.value().flat(0) == doctest::Approx(1.0 * 0.95 - 0.5));
  CHECK(a.value().flat(1) == doctest::Approx(2.0 * 0.95 - 0.5));
  CHECK(b.value().flat(0) == 3.0);
  CHECK(bias.value().flat(0) == 4.0);
}

TEST_CASE("optim: clip_by_global_norm scales jointly and leaves small gradients exactly as they are") {
  std::vector<Tensor> g = {Tensor::from({3.0}, {1}, DType::F64), Tensor::from({0.0, 4.0}, {2}, DType::F64)};
  CHECK(clip_by_global_norm(g, 1.0) == doctest::Approx(5.0));
  CHECK(g[0].flat(0) == doctest::Approx(0.6));
  CHECK(g[1].flat(1) == doctest::Approx(0.8));
  std::vector<Tensor> small = {Tensor::from({0.3f, -0.4f}, {2})};
  const Tensor before = small[0].clone();
  CHECK(clip_by_global_norm(small, 1.0) == doctest::Approx(0.5).epsilon(1e-7));
  CHECK(bit_equal(small[0], before));
}

TEST_CASE("optim: clipping inside step() does not rewrite the gradients the parameters hold") {
  Variable w(Tensor::from({0.0, 0.0}, {2}, DType::F64), true);
  w.node()->accumulate_grad(Tensor::from({3.0, 4.0}, {2}, DType::F64));
  SGDOptions options;
  options.learning_rate = 1.0;
  options.global_clipnorm = 1.0;
  SGD sgd({{"w", w}}, options);
  sgd.step();
  CHECK(sgd.last_gradient_norm() == doctest::Approx(5.0));
  CHECK(w.value().flat(0) == doctest::Approx(-0.6));
  CHECK(w.value().flat(1) == doctest::Approx(-0.8));
  CHECK(w.grad().flat(0) == 3.0);
}

TEST_CASE("optim: float32 weights update in float32 and stay close to the float64 trajectory") {
  const nlohmann::json& c = optim_fixtures().at("keras_adam_defaults");
  Quadratic q(c, DType::F32);
  std::unique_ptr<Optimizer> opt = make_optimizer(c.at("optimizer"), q.params);
  q.train(*opt, c.at("steps").get<int>());
  CHECK(q.params[0].variable.dtype() == DType::F32);
  CHECK(max_abs_diff(q.params[0].variable.value().to(DType::F64), fixture_tensor(c["expected"].back()[0])) < 1e-5);
}

TEST_CASE("optim: bad settings are refused with the name of the setting") {
  CHECK_THROWS_WITH_AS(make_optimizer({{"name", "adagrad"}}, {}), doctest::Contains("unknown optimizer 'adagrad'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_optimizer({{"name", "sgd"}, {"beta_1", 0.9}}, {}), doctest::Contains("'beta_1'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_optimizer({{"name", "adam"}, {"learning_rate", "fast"}}, {}),
                       doctest::Contains("wrong type"), std::invalid_argument);
  Variable v(Tensor({2}), true);
  CHECK_THROWS_WITH_AS(Adam({{"x", v}, {"x", v}}), doctest::Contains("two parameters are named 'x'"),
                       std::invalid_argument);
}
