// The optimizer's moving average of the weights (Keras 3's use_ema), checked against sequences computed here in
// long double, independently of the code under test.
#include <cmath>
#include <vector>

#include "tests/optim/optim_test_util.h"

using namespace tg;
using namespace tg::testing;

namespace {
constexpr double kLearningRate = 0.1;
constexpr long double kInitial[] = {1.0L, -2.0L, 0.5L};

// Step t's gradient of element j (t from 1): known numbers, different every step.
long double gradient(int t, int j) { return 0.25L * t * (j + 1) - 0.6L * (t % 2); }

Tensor gradient_tensor(int t, DType dtype) {
  std::vector<double> g;
  for (int j = 0; j < 3; ++j) g.push_back(static_cast<double>(gradient(t, j)));
  return Tensor::from(std::span<const double>(g), {3}, dtype);
}

struct EmaRun {
  Variable w;
  std::unique_ptr<Optimizer> opt;
  int steps = 0;
  EmaRun(double momentum, int64_t overwrite_every, DType dtype = DType::F64, bool use_ema = true)
      : w(Tensor::from({1.0, -2.0, 0.5}, {3}, dtype), true) {
    opt = make_optimizer({{"name", "sgd"},
                          {"learning_rate", kLearningRate},
                          {"use_ema", use_ema},
                          {"ema_momentum", momentum},
                          {"ema_overwrite_frequency", overwrite_every}},
                         {{"w", w}});
  }
  void step() {
    opt->zero_grad();
    w.node()->accumulate_grad(gradient_tensor(++steps, w.dtype()));
    opt->step();
  }
  Tensor average() const {
    for (const NamedTensor& t : opt->state().tensors)
      if (t.name == "optimizer/w/average") return t.tensor;
    FAIL("no average in the state");
    return {};
  }
};

// Plain SGD's weights after t steps: w_0 - lr * (g_1 + ... + g_t).
long double sgd_weight(int t, int j) {
  long double w = kInitial[j];
  for (int s = 1; s <= t; ++s) w -= static_cast<long double>(kLearningRate) * gradient(s, j);
  return w;
}

// The average after t steps from its closed form: m^(t-1) w_1 + (1 - m) sum_{k=2..t} m^(t-k) w_k (the first step's
// momentum is 0, so w_1 enters with weight 1 before the later decay).
long double closed_form_average(long double m, int t, int j) {
  long double a = std::pow(m, t - 1) * sgd_weight(1, j);
  for (int k = 2; k <= t; ++k) a += (1 - m) * std::pow(m, t - k) * sgd_weight(k, j);
  return a;
}
}  // namespace

TEST_CASE("optim ema: the average starts at the first step's weights, bit for bit, in float32 and float64") {
  for (DType dtype : {DType::F32, DType::F64}) {
    EmaRun run(0.9, 0, dtype);
    run.step();
    CHECK(bit_equal(run.average(), run.w.value()));
    run.step();
    CHECK_FALSE(bit_equal(run.average(), run.w.value()));
  }
}

TEST_CASE("optim ema: averages of SGD's weights follow the closed form, the weights stay SGD's") {
  const long double m = 0.9L;
  EmaRun run(static_cast<double>(m), 0);
  for (int t = 1; t <= 6; ++t) {
    run.step();
    const Tensor a = run.average();
    for (int j = 0; j < 3; ++j) {
      CAPTURE(t);
      CAPTURE(j);
      CHECK(a.flat(j) == doctest::Approx(static_cast<double>(closed_form_average(m, t, j))).epsilon(1e-13));
      CHECK(run.w.value().flat(j) == doctest::Approx(static_cast<double>(sgd_weight(t, j))).epsilon(1e-13));
    }
  }
  // Step 6 by hand, for one element: a_6 differs from w_6 (the average lags), so the check above is not vacuous.
  CHECK(std::fabs(run.average().flat(0) - run.w.value().flat(0)) > 0.01);
}

TEST_CASE("optim ema: ema_overwrite_frequency copies the averages over the weights every N steps") {
  const long double m = 0.8L, lr = kLearningRate;
  EmaRun run(static_cast<double>(m), 3);
  // The same rule in long double: update, average (momentum 0 at the first step), overwrite after steps 3 and 6.
  long double w[3] = {kInitial[0], kInitial[1], kInitial[2]}, a[3] = {0, 0, 0};
  for (int t = 1; t <= 7; ++t) {
    run.step();
    for (int j = 0; j < 3; ++j) {
      w[j] -= lr * gradient(t, j);
      const long double mu = t == 1 ? 0.0L : m;
      a[j] = mu * a[j] + (1 - mu) * w[j];
      if (t % 3 == 0) w[j] = a[j];
    }
    CAPTURE(t);
    CHECK(bit_equal(run.w.value(), run.average()) == (t == 1 || t % 3 == 0));  // step 1: the average is the weight
    for (int j = 0; j < 3; ++j) {
      CHECK(run.w.value().flat(j) == doctest::Approx(static_cast<double>(w[j])).epsilon(1e-13));
      CHECK(run.average().flat(j) == doctest::Approx(static_cast<double>(a[j])).epsilon(1e-13));
    }
  }
}

TEST_CASE("optim ema: finalize_variable_values puts the averages into the weights, and without use_ema does nothing") {
  EmaRun run(0.9, 0);
  for (int t = 0; t < 4; ++t) run.step();
  const Tensor average = run.average().clone();
  CHECK_FALSE(bit_equal(run.w.value(), average));
  run.opt->finalize_variable_values();
  CHECK(bit_equal(run.w.value(), average));

  EmaRun plain(0.9, 0, DType::F64, false);
  for (int t = 0; t < 4; ++t) plain.step();
  const Tensor before = plain.w.value().clone();
  plain.opt->finalize_variable_values();
  CHECK(bit_equal(plain.w.value(), before));
  CHECK(plain.opt->state().tensors.empty());  // plain SGD has no slots, and no average without use_ema
}

TEST_CASE("optim ema: swapped averages are named in the state as what they are, and a load undoes the swap") {
  EmaRun run(0.9, 0, DType::F32);
  for (int t = 0; t < 3; ++t) run.step();
  const Tensor trained = run.w.value().clone(), average = run.average().clone();
  run.opt->swap_averages();
  CHECK(run.opt->averages_swapped());
  CHECK(bit_equal(run.w.value(), average));
  CHECK_THROWS_AS(run.opt->step(), std::logic_error);  // training the averages would be a silent bug
  const OptimizerState swapped = run.opt->state();
  REQUIRE(swapped.tensors.size() == 2);
  CHECK(swapped.tensors[0].name == "optimizer/w/average");
  CHECK(bit_equal(swapped.tensors[0].tensor, average));
  CHECK(swapped.tensors[1].name == "optimizer/w/training_weight");
  CHECK(bit_equal(swapped.tensors[1].tensor, trained));
  run.opt->swap_averages();
  CHECK(bit_equal(run.w.value(), trained));
  CHECK(bit_equal(run.average(), average));

  // As a checkpoint resumes: the model's tensors (the averages) first, then the state with the training weights.
  EmaRun resumed(0.9, 0, DType::F32);
  resumed.w.value().copy_from(average);
  resumed.opt->load_state(swapped);
  CHECK(bit_equal(resumed.w.value(), trained));
  CHECK(bit_equal(resumed.average(), average));
  CHECK(resumed.opt->iterations() == 3);
  resumed.steps = run.steps;
  resumed.step();
  run.step();
  CHECK(bit_equal(resumed.w.value(), run.w.value()));
  CHECK(bit_equal(resumed.average(), run.average()));
}

TEST_CASE("optim ema: a state without averages is refused by use_ema, and one with them without it") {
  EmaRun plain(0.9, 0, DType::F64, false);
  plain.step();
  EmaRun ema(0.9, 0);
  CHECK_THROWS_WITH_AS(ema.opt->load_state(plain.opt->state()),
                       doctest::Contains("has no tensor 'optimizer/w/average': it was saved without use_ema"),
                       std::runtime_error);
  CHECK(ema.opt->iterations() == 0);  // the failed load changed nothing
  ema.step();
  EmaRun fresh(0.9, 0, DType::F64, false);
  CHECK_THROWS_WITH_AS(fresh.opt->load_state(ema.opt->state()), doctest::Contains("it was saved with use_ema"),
                       std::runtime_error);
}

TEST_CASE("optim ema: settings are checked as Keras checks them and survive config()") {
  Variable w(Tensor::from({1.0}, {1}, DType::F64), true);
  CHECK_THROWS_WITH_AS(make_optimizer({{"name", "adam"}, {"use_ema", true}, {"ema_momentum", 1.5}}, {{"w", w}}),
                       doctest::Contains("ema_momentum must be in [0, 1]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_optimizer({{"name", "adam"}, {"use_ema", true}, {"ema_overwrite_frequency", -2}},
                                      {{"w", w}}),
                       doctest::Contains("ema_overwrite_frequency"), std::invalid_argument);
  const auto adam = make_optimizer(
      {{"name", "adam"}, {"use_ema", true}, {"ema_momentum", 0.999}, {"ema_overwrite_frequency", 10}}, {{"w", w}});
  const nlohmann::json config = adam->config();
  CHECK(config.at("use_ema") == true);
  CHECK(config.at("ema_momentum") == 0.999);
  CHECK(config.at("ema_overwrite_frequency") == 10);
  CHECK(make_optimizer(config, {{"w", w}})->config() == config);
  // Off by default, with Keras's defaults for the rest.
  const nlohmann::json defaults = make_optimizer({{"name", "sgd"}}, {})->config();
  CHECK(defaults.at("use_ema") == false);
  CHECK(defaults.at("ema_momentum") == 0.99);
  CHECK(defaults.at("ema_overwrite_frequency") == 0);
}
