#include <omp.h>

#include <cmath>
#include <cstring>

#include "tests/autograd/norm_fixtures.h"

using namespace tg;
using tg::testing::expect_gradcheck;
using tg::testing::random_tensor;

namespace {

// A loss is a mean over pixels, so its gradients are small (about 1 / pixels) and at gradcheck's default step of
// 1e-6 the rounding of the difference quotient (|loss| * 1e-16 / step) reaches 1e-6 of them; a step of 1e-5 is
// nearer the optimum for float64 central differences (truncation error ~ step^2, rounding ~ 1 / step).
GradcheckOptions loss_gradcheck() {
  GradcheckOptions o;
  o.eps = 1e-5;
  return o;
}

Tensor f64(std::initializer_list<double> v, Shape s) { return Tensor::from(v, std::move(s), DType::F64); }

// Random class ids in [0, classes) for every pixel of `shape` (which has no class axis).
Tensor random_labels(Shape shape, int64_t classes, uint64_t seed) {
  Tensor t(std::move(shape), DType::F64);
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.set_flat(i, static_cast<double>(rng.uniform_int(classes)));
  return t;
}

// One-hot rows for labels; a label outside [0, classes) gives an all-zero (void) row.
Tensor one_hot(const Tensor& labels, int64_t classes) {
  Shape s = labels.shape();
  s.push_back(classes);
  Tensor t(s, DType::F64);
  for (int64_t i = 0; i < labels.numel(); ++i) {
    const int64_t k = static_cast<int64_t>(labels.flat(i));
    if (k >= 0 && k < classes) t.set_flat(i * classes + k, 1.0);
  }
  return t;
}

double value_of(const Variable& v) { return v.item(); }

void expect_values(const Tensor& t, std::initializer_list<double> want) {
  REQUIRE(t.numel() == static_cast<int64_t>(want.size()));
  int64_t i = 0;
  for (double w : want) CHECK(t.flat(i++) == doctest::Approx(w).epsilon(1e-12));
}

}  // namespace

// ---- hand-computed values on two pixels ----------------------------------------------------------------------

TEST_CASE("categorical_crossentropy: two pixels by hand, from probabilities and from logits") {
  // Probabilities that do not sum to 1: Keras renormalises. Pixel 0: [0.6, 0.2] -> 0.75 for the true class 0;
  // pixel 1: [0.3, 0.6] -> 2/3 for the true class 1.
  const Tensor p = f64({0.6, 0.2, 0.3, 0.6}, {2, 2}), y = f64({1, 0, 0, 1}, {2, 2});
  const double l0 = -std::log(0.75), l1 = -std::log(2.0 / 3.0);
  CHECK(value_of(categorical_crossentropy(Variable(p), y)) == doctest::Approx((l0 + l1) / 2).epsilon(1e-12));

  LossOptions weighted;
  weighted.class_weights = {2.0, 0.5};
  CHECK(value_of(categorical_crossentropy(Variable(p), y, weighted)) ==
        doctest::Approx((2.0 * l0 + 0.5 * l1) / 2).epsilon(1e-12));

  // An all-zero target row: counted as a pixel with zero loss (Keras), or left out when ignoring void pixels.
  const Tensor y_void = f64({1, 0, 0, 0}, {2, 2});
  CHECK(value_of(categorical_crossentropy(Variable(p), y_void)) == doctest::Approx(l0 / 2).epsilon(1e-12));
  LossOptions ignore;
  ignore.ignore_index = 255;
  CHECK(value_of(categorical_crossentropy(Variable(p), y_void, ignore)) == doctest::Approx(l0).epsilon(1e-12));

  // Logits [0, ln 3] -> softmax [0.25, 0.75]; [2, 2] -> [0.5, 0.5].
  LossOptions logits;
  logits.from_logits = true;
  const Tensor x = f64({0.0, std::log(3.0), 2.0, 2.0}, {2, 2}), y2 = f64({0, 1, 1, 0}, {2, 2});
  CHECK(value_of(categorical_crossentropy(Variable(x), y2, logits)) ==
        doctest::Approx(-(std::log(0.75) + std::log(0.5)) / 2).epsilon(1e-12));
  // Gradient from logits: (softmax - y) / pixels.
  Variable xv(x, true);
  categorical_crossentropy(xv, y2, logits).backward();
  CHECK(xv.grad().to_vector()[0] == doctest::Approx(0.25 / 2).epsilon(1e-12));
  CHECK(xv.grad().to_vector()[1] == doctest::Approx(-0.25 / 2).epsilon(1e-12));
  CHECK(xv.grad().to_vector()[2] == doctest::Approx(-0.5 / 2).epsilon(1e-12));
}

TEST_CASE("sparse_categorical_crossentropy: two pixels by hand, ignored labels, labels shaped (..., 1)") {
  LossOptions logits;
  logits.from_logits = true;
  const Tensor x = f64({0.0, std::log(3.0), 2.0, 2.0}, {2, 2});
  CHECK(value_of(sparse_categorical_crossentropy(Variable(x), f64({1, 0}, {2}), logits)) ==
        doctest::Approx(-(std::log(0.75) + std::log(0.5)) / 2).epsilon(1e-12));
  CHECK(value_of(sparse_categorical_crossentropy(Variable(x), f64({1, 0}, {2, 1}), logits)) ==
        doctest::Approx(-(std::log(0.75) + std::log(0.5)) / 2).epsilon(1e-12));

  logits.ignore_index = 255;
  Variable xv(x, true);
  Variable loss = sparse_categorical_crossentropy(xv, f64({1, 255}, {2}), logits);
  CHECK(value_of(loss) == doctest::Approx(-std::log(0.75)).epsilon(1e-12));
  loss.backward();
  expect_values(xv.grad(), {0.25, -0.25, 0.0, 0.0});

  // Probabilities: Keras clips, then the log goes through a softmax: log(sum p) - log p_k.
  const Tensor p = f64({0.6, 0.2, 0.3, 0.6}, {2, 2});
  CHECK(value_of(sparse_categorical_crossentropy(Variable(p), f64({0, 1}, {2}))) ==
        doctest::Approx((std::log(0.8 / 0.6) + std::log(0.9 / 0.6)) / 2).epsilon(1e-12));
}

TEST_CASE("binary_crossentropy: two pixels by hand, from probabilities and from logits") {
  const double eps = 1e-7;
  CHECK(value_of(binary_crossentropy(Variable(f64({0.8, 0.3}, {2, 1})), f64({1, 0}, {2, 1}))) ==
        doctest::Approx(-(std::log(0.8 + eps) + std::log(0.7 + eps)) / 2).epsilon(1e-12));
  LossOptions logits;
  logits.from_logits = true;
  // x = 0, y = 1: log 2. x = 2, y = 0.5: 2 - 1 + log(1 + e^-2).
  CHECK(value_of(binary_crossentropy(Variable(f64({0.0, 2.0}, {2, 1})), f64({1, 0.5}, {2, 1}), logits)) ==
        doctest::Approx((std::log(2.0) + 1.0 + std::log1p(std::exp(-2.0))) / 2).epsilon(1e-12));
  // Stable for large logits: x = -1000 with y = 1 costs 1000, not inf.
  CHECK(value_of(binary_crossentropy(Variable(f64({-1000.0}, {1})), f64({1}, {1}), logits)) ==
        doctest::Approx(1000.0));
  // Class weights by round(target); void values are left out of the count.
  logits.class_weights = {0.5, 3.0};
  logits.ignore_index = 255;
  CHECK(value_of(binary_crossentropy(Variable(f64({0.0, 2.0, 5.0}, {3, 1})), f64({1, 0, 255}, {3, 1}), logits)) ==
        doctest::Approx((3.0 * std::log(2.0) + 0.5 * (2.0 + std::log1p(std::exp(-2.0)))) / 2).epsilon(1e-12));
}

TEST_CASE("losses: clipping at p = 0 and p = 1, as tf.keras") {
  SUBCASE("binary_crossentropy, float64") {
    // p = 0 with y = 1 and p = 1 with y = 0: clipped to 1e-7 from the bound, then log(1e-7 + 1e-7) = log(2e-7).
    // p = 0 with y = 0 and p = 1 with y = 1 cost (almost) nothing. The gradient is zero outside the bounds.
    Variable p(f64({0, 1, 0, 1}, {4}), true);
    Variable loss = binary_crossentropy(p, f64({1, 0, 0, 1}, {4}));
    CHECK(value_of(loss) == doctest::Approx(2 * -std::log(2e-7) / 4).epsilon(1e-9));
    loss.backward();
    CHECK(p.grad().to_vector() == std::vector<double>{0, 0, 0, 0});
  }
  SUBCASE("binary_crossentropy, float32: the upper bound is float32(1 - 1e-7) = 1 - 2^-23") {
    const double upper_gap = std::ldexp(1.0, -23), eps32 = static_cast<double>(1e-7f);
    CHECK(value_of(binary_crossentropy(Variable(Tensor::from({1.0}, {1})), Tensor::from({0.0}, {1}))) ==
          doctest::Approx(-std::log(upper_gap + eps32)).epsilon(1e-6));
    CHECK(value_of(binary_crossentropy(Variable(Tensor::from({0.0}, {1})), Tensor::from({1.0}, {1}))) ==
          doctest::Approx(-std::log(2 * eps32)).epsilon(1e-6));
  }
  SUBCASE("categorical_crossentropy") {
    // True class at p = 0: clipped to 1e-7, loss -log(1e-7) = 16.118; at p = 1: clipped to 1 - 1e-7.
    Variable p(f64({0, 1, 1, 0}, {2, 2}), true);
    Variable loss = categorical_crossentropy(p, f64({1, 0, 1, 0}, {2, 2}));
    CHECK(value_of(loss) == doctest::Approx((-std::log(1e-7) - std::log1p(-1e-7)) / 2).epsilon(1e-9));
    loss.backward();
    CHECK(p.grad().to_vector() == std::vector<double>{0, 0, 0, 0});
  }
  SUBCASE("sparse_categorical_crossentropy") {
    // Clipped p = [1e-7, 1 - 1e-7] sums to 1, so the loss is -log(1e-7).
    CHECK(value_of(sparse_categorical_crossentropy(Variable(f64({0, 1}, {1, 2})), f64({0}, {1}))) ==
          doctest::Approx(-std::log(1e-7)).epsilon(1e-9));
  }
}

TEST_CASE("dice_loss: by hand, softmax classes and a single sigmoid channel") {
  // Class 0: I = 0.8, P = 1.2, Y = 1 -> 2.6 / 3.2; class 1: I = 0.6, P = 0.8, Y = 1 -> 2.2 / 2.8.
  const Tensor p = f64({0.8, 0.2, 0.4, 0.6}, {2, 2}), y = f64({1, 0, 0, 1}, {2, 2});
  const double d0 = 2.6 / 3.2, d1 = 2.2 / 2.8;
  CHECK(value_of(dice_loss(Variable(p), y)) == doctest::Approx(1 - (d0 + d1) / 2).epsilon(1e-12));
  LossOptions weighted;
  weighted.class_weights = {0.0, 1.0};  // background left out
  CHECK(value_of(dice_loss(Variable(p), y, weighted)) == doctest::Approx(1 - d1).epsilon(1e-12));
  // Logits [0, ln 3] on one channel -> p = [0.5, 0.75], y = [1, 0]: I = 0.5, P = 1.25, Y = 1.
  LossOptions logits;
  logits.from_logits = true;
  CHECK(value_of(dice_loss(Variable(f64({0.0, std::log(3.0)}, {2, 1})), f64({1, 0}, {2, 1}), logits)) ==
        doctest::Approx(1 - 2.0 / 3.25).epsilon(1e-12));
  // A void pixel (all-zero one-hot row) takes no part in the sums.
  LossOptions ignore;
  ignore.ignore_index = 255;
  CHECK(value_of(dice_loss(Variable(f64({0.8, 0.2, 0.4, 0.6, 0.9, 0.1}, {3, 2})), f64({1, 0, 0, 1, 0, 0}, {3, 2}),
                           ignore)) == doctest::Approx(1 - (d0 + d1) / 2).epsilon(1e-12));
}

TEST_CASE("mse and mae: values and gradients by hand") {
  const Tensor t = f64({0, 4, 3}, {3});
  Variable p(f64({1, 2, 3}, {3}), true);
  Variable l = mse(p, t);
  CHECK(value_of(l) == doctest::Approx(5.0 / 3).epsilon(1e-12));
  l.backward();
  expect_values(p.grad(), {2.0 / 3, -4.0 / 3, 0.0});
  Variable q(f64({1, 2, 3}, {3}), true);
  Variable m = mae(q, t);
  CHECK(value_of(m) == doctest::Approx(1.0).epsilon(1e-12));
  m.backward();
  expect_values(q.grad(), {1.0 / 3, -1.0 / 3, 0.0});
}

// ---- gradchecks -------------------------------------------------------------------------------------------------

TEST_CASE("losses: gradcheck from probabilities and from logits, with class weights and ignored pixels") {
  const Shape shape{2, 2, 2, 3};
  const Tensor labels = random_labels({2, 2, 2}, 3, 1);
  Tensor void_labels = labels.clone();
  void_labels.set_flat(1, 255);
  void_labels.set_flat(6, 255);
  const Tensor y = one_hot(labels, 3), y_void = one_hot(void_labels, 3);
  const Tensor probs = random_tensor(shape, 2, 0.1, 0.9), logits = random_tensor(shape, 3, -3, 3);

  std::vector<LossOptions> variants(4);
  variants[1].class_weights = {0.5, 2.0, 1.5};
  variants[2].ignore_index = 255;
  variants[3].class_weights = {0.5, 2.0, 1.5};
  variants[3].ignore_index = 255;
  for (bool from_logits : {false, true}) {
    for (LossOptions o : variants) {
      o.from_logits = from_logits;
      CAPTURE(from_logits);
      CAPTURE(o.class_weights.size());
      CAPTURE(o.ignore_index);
      const Tensor& x = from_logits ? logits : probs;
      const Tensor& target = o.ignore_index >= 0 ? y_void : y;
      const Tensor& ids = o.ignore_index >= 0 ? void_labels : labels;
      auto check = [&](const std::string& loss, const GradcheckFn& f, const Tensor& input) {
        CAPTURE(loss);
        expect_gradcheck(f, {input}, loss_gradcheck());
      };
      check("categorical", [&](const std::vector<Variable>& in) { return categorical_crossentropy(in[0], target, o); }, x);
      check("sparse", [&](const std::vector<Variable>& in) { return sparse_categorical_crossentropy(in[0], ids, o); }, x);
      check("dice", [&](const std::vector<Variable>& in) { return dice_loss(in[0], target, o); }, x);

      LossOptions b = o;
      if (!b.class_weights.empty()) b.class_weights = {0.7, 1.8};
      Tensor soft = random_tensor(shape, 4, 0.0, 1.0);
      if (b.ignore_index >= 0) soft.set_flat(5, 255);
      check("binary", [&](const std::vector<Variable>& in) { return binary_crossentropy(in[0], soft, b); }, x);
    }
  }
  // Dice from a single sigmoid channel.
  LossOptions o;
  o.from_logits = true;
  const Tensor mask = random_labels({2, 3, 2, 1}, 2, 5);
  expect_gradcheck([&](const std::vector<Variable>& in) { return dice_loss(in[0], mask, o); },
                   {random_tensor({2, 3, 2, 1}, 6, -2, 2)}, loss_gradcheck());
  o.ignore_index = 255;
  Tensor void_mask = mask.clone();
  void_mask.set_flat(3, 255);
  expect_gradcheck([&](const std::vector<Variable>& in) { return dice_loss(in[0], void_mask, o); },
                   {random_tensor({2, 3, 2, 1}, 6, -2, 2)}, loss_gradcheck());
  // Regression losses (random values, so no prediction sits on mae's kink).
  const Tensor t = random_tensor(shape, 7);
  expect_gradcheck([&](const std::vector<Variable>& in) { return mse(in[0], t); }, {random_tensor(shape, 8)}, loss_gradcheck());
  expect_gradcheck([&](const std::vector<Variable>& in) { return mae(in[0], t); }, {random_tensor(shape, 9)}, loss_gradcheck());
}

TEST_CASE("losses: ignored pixels receive no gradient") {
  LossOptions o;
  o.from_logits = true;
  o.ignore_index = 255;
  Variable x(random_tensor({3, 2}, 10), true);
  sparse_categorical_crossentropy(x, f64({0, 255, 1}, {3}), o).backward();
  CHECK(x.grad().flat(2) == 0.0);
  CHECK(x.grad().flat(3) == 0.0);
  CHECK(x.grad().flat(0) != 0.0);
}

// ---- float32 accuracy -------------------------------------------------------------------------------------------

// The float32 losses take their exps and logs in float (autograd/kernels/vector_math.h). A confident pixel's loss is
// a tiny number that log(sum of exps) in float would round to 0 and log(q) of a q near 1 would keep to one digit;
// the losses take log1p of the other classes' share instead. References in double from the same float inputs.
TEST_CASE("losses: float32 keeps a confident pixel's small loss and gradient to float accuracy") {
  auto rel = [](double got, double want) { return std::fabs(got - want) / std::fabs(want); };
  auto f32 = [](std::initializer_list<double> v, Shape s) { return Tensor::from(v, std::move(s), DType::F32); };
  LossOptions logits;
  logits.from_logits = true;
  for (double margin : {3.0, 20.0, 30.0, 80.0}) {
    CAPTURE(margin);
    const double e = std::exp(-margin);
    // Sparse and one-hot cross-entropy from logits (margin, 0), class 0: log1p(e^-margin).
    Variable x(f32({margin, 0.0}, {1, 2}), true);
    Variable l = sparse_categorical_crossentropy(x, f64({0}, {1}), logits);
    CHECK(rel(l.item(), std::log1p(e)) < 1e-6);
    l.backward();
    CHECK(rel(x.grad().flat(0), -e / (1 + e)) < 1e-6);
    CHECK(rel(x.grad().flat(1), e / (1 + e)) < 1e-6);
    CHECK(rel(value_of(categorical_crossentropy(Variable(f32({margin, 0.0}, {1, 2})), f64({1, 0}, {1, 2}), logits)),
              std::log1p(e)) < 1e-6);
    // Binary cross-entropy from a logit of margin, target 1: log1p(e^-margin), gradient sigmoid - 1.
    Variable b(f32({margin}, {1}), true);
    Variable bl = binary_crossentropy(b, f64({1}, {1}), logits);
    CHECK(rel(bl.item(), std::log1p(e)) < 1e-6);
    bl.backward();
    CHECK(rel(b.grad().flat(0), -e / (1 + e)) < 1e-6);
  }
  // From probabilities: a q of 1 - 1e-5 (as a float) for the true class; the loss is -log q.
  const Tensor p = f32({1 - 1e-5, 1e-5}, {1, 2});
  const double p0 = p.flat(0), p1 = p.flat(1);
  CHECK(rel(value_of(categorical_crossentropy(Variable(p), f64({1, 0}, {1, 2}))), -std::log(p0 / (p0 + p1))) < 1e-6);
  CHECK(rel(value_of(sparse_categorical_crossentropy(Variable(p), f64({0}, {1}))), -std::log(p0 / (p0 + p1))) < 1e-6);
  CHECK(rel(value_of(binary_crossentropy(Variable(f32({1 - 1e-5}, {1})), f64({1}, {1}))),
            -std::log(static_cast<double>(static_cast<float>(1 - 1e-5)) + static_cast<double>(1e-7f))) < 1e-6);
}

// ---- determinism and errors -----------------------------------------------------------------------------------

TEST_CASE("losses: the value and gradient are bit-identical for any thread count") {
  const Tensor x = random_tensor({4, 128, 128, 3}, 11, -3, 3).to(DType::F32);
  const Tensor labels = random_labels({4, 128, 128}, 3, 12);
  LossOptions o;
  o.from_logits = true;
  auto run = [&](int threads) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    Variable xv(x.clone(), true);
    Variable loss = sparse_categorical_crossentropy(xv, labels, o);
    Variable dice = dice_loss(xv, one_hot(labels, 3), o);
    const double l = loss.item(), d = dice.item();
    add(loss, dice).backward();
    omp_set_num_threads(saved);
    return std::tuple{l, d, xv.grad()};
  };
  auto [l1, d1, g1] = run(1);
  auto [l3, d3, g3] = run(3);
  CHECK(l1 == l3);
  CHECK(d1 == d3);
  CHECK(std::memcmp(g1.bytes(), g3.bytes(), g1.nbytes()) == 0);
}

TEST_CASE("losses: clear errors for shapes, labels, targets and class weights") {
  Variable pred(Tensor::zeros({2, 4, 4, 3}));
  CHECK_THROWS_WITH_AS(categorical_crossentropy(pred, Tensor::zeros({2, 4, 4, 2})),
                       doctest::Contains("target shape [2, 4, 4, 2] does not match the prediction's shape [2, 4, 4, 3]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mse(pred, Tensor::zeros({2, 4, 4})), doctest::Contains("mse: target shape [2, 4, 4]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(sparse_categorical_crossentropy(pred, Tensor::zeros({2, 4, 3})),
                       doctest::Contains("labels of shape [2, 4, 3] do not fit a prediction of shape [2, 4, 4, 3]"),
                       std::invalid_argument);
  Tensor labels = Tensor::zeros({2, 4, 4});
  labels.set_flat(4 * 4 + 2 * 4 + 1, 3);  // index [1, 2, 1]
  CHECK_THROWS_WITH_AS(sparse_categorical_crossentropy(pred, labels),
                       doctest::Contains("label 3 at index [1, 2, 1] is not a class id in [0, 3)"),
                       std::invalid_argument);
  labels.set_flat(4 * 4 + 2 * 4 + 1, 0.5);
  CHECK_THROWS_WITH_AS(sparse_categorical_crossentropy(pred, labels), doctest::Contains("label 0.5 at index [1, 2, 1]"),
                       std::invalid_argument);
  Tensor mask = Tensor::zeros({2, 4, 4, 3});
  mask.set_flat(7, 255);
  CHECK_THROWS_WITH_AS(binary_crossentropy(pred, mask), doctest::Contains("target 255 at index [0, 0, 2, 1]"),
                       std::invalid_argument);
  LossOptions o;
  o.class_weights = {1.0, 2.0};
  CHECK_THROWS_WITH_AS(categorical_crossentropy(pred, Tensor::zeros({2, 4, 4, 3}), o),
                       doctest::Contains("2 class weights given, but it needs 3"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(mae(Variable(Tensor::full({}, 1.0)), Tensor::full({}, 1.0)),
                       doctest::Contains("needs a last (class) axis"), std::invalid_argument);
}

// ---- PyTorch reference ------------------------------------------------------------------------------------------

TEST_CASE("losses: float32 values and gradients agree with PyTorch") {
  using namespace tg::testing;
  int checked = 0;
  for (const auto& [name, c] : norm_fixtures().items()) {
    if (!c.contains("loss")) continue;
    CAPTURE(name);
    const std::string loss = c.at("loss").get<std::string>();
    LossOptions o;
    const auto& opt = c.at("options");
    o.from_logits = opt.value("from_logits", false);
    o.ignore_index = opt.value("ignore_index", -1);
    o.class_weights = opt.value("class_weights", std::vector<double>{});
    const Tensor pred = fixture_tensor(c.at("pred"), DType::F32);
    auto check = [&](const std::string& what, auto&& f) {
      Variable x(pred.clone(), true);
      Variable l = f(x);
      expect_close(l.item(), c.at("value").get<double>(), name + " " + what + " value");
      l.backward();
      expect_close(x.grad(), c.at("grad"), name + " " + what + " gradient");
      ++checked;
    };
    if (loss == "ce" || loss == "categorical")
      check("categorical", [&](const Variable& x) {
        return categorical_crossentropy(x, fixture_tensor(c.at("target"), DType::F32), o);
      });
    if (loss == "ce" || loss == "sparse")
      check("sparse", [&](const Variable& x) {
        return sparse_categorical_crossentropy(x, fixture_tensor(c.at("labels"), DType::F32), o);
      });
    if (loss == "bce")
      check("bce", [&](const Variable& x) { return binary_crossentropy(x, fixture_tensor(c.at("target"), DType::F32), o); });
    if (loss == "dice")
      check("dice", [&](const Variable& x) { return dice_loss(x, fixture_tensor(c.at("target"), DType::F32), o); });
    if (loss == "mse") check("mse", [&](const Variable& x) { return mse(x, fixture_tensor(c.at("target"), DType::F32)); });
    if (loss == "mae") check("mae", [&](const Variable& x) { return mae(x, fixture_tensor(c.at("target"), DType::F32)); });
  }
  CHECK(checked == 16);
}
