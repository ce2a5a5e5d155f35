// The Model's fusion of the decoder's layer pairs (layers/fusion.h): which pairs it plans, that a fused model computes
// what the unfused one does (forward and backward, float32 and float64, any thread count), and that hooks, the
// profiler and set_fusion(false) see every layer.
#include <omp.h>

#include <algorithm>
#include <string>

#include "autograd/profiler.h"
#include "tests/layers/layers_test_util.h"

using namespace tg;
using namespace tg::testing;

namespace {

// The classes of the layers the plan computes inside the next layer's fused op, and how many of each kind fused.
struct PlanSummary {
  std::vector<std::string> folded;
  int upsampling = 0, concatenation = 0;
};
PlanSummary summarise(const Model& m) {
  PlanSummary s;
  const auto layers = m.layers();
  const FusionPlan& plan = m.fusion_plan();
  for (size_t i = 0; i < layers.size(); ++i) {
    if (plan.folded[i]) s.folded.push_back(layers[i]->class_name());
    s.upsampling += plan.fused[i] == FusedWith::upsampling;
    s.concatenation += plan.fused[i] == FusedWith::concatenation;
  }
  return s;
}

// The output, the input's gradient and every trainable weight's gradient after backward with a fixed upstream
// gradient, in training mode with a fixed dropout mask.
std::vector<Tensor> step(Model& m, const Tensor& x, bool fusion) {
  m.set_fusion(fusion);
  m.train();
  m.rng().set_state({77, 0});
  for (Weight& w : m.trainable_weights()) w.variable.zero_grad();
  Variable input(x, true);
  Variable y = m(input);
  y.backward(random_tensor(y.shape(), 5, -1, 1, y.dtype()));
  std::vector<Tensor> out{y.value(), input.grad()};
  for (const Weight& w : m.trainable_weights()) out.push_back(w.variable.grad().clone());
  return out;
}

double largest_magnitude(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::abs(t.flat(i)));
  return m;
}

// max |a - b| over max |b| (or floor, when larger).
double relative_difference(const Tensor& a, const Tensor& b, double floor = 1e-30) {
  REQUIRE(a.shape() == b.shape());
  double diff = 0;
  for (int64_t i = 0; i < a.numel(); ++i) diff = std::max(diff, std::abs(a.flat(i) - b.flat(i)));
  return diff / std::max(largest_magnitude(b), floor);
}

}  // namespace

TEST_CASE("fusion: every U-Net upsampling and concatenation is planned into the Conv2D after it") {
  for (bool batch_norm : {false, true}) {
    const Model m = unet({32, 32, 1}, 2, 4, 3, 0.5, batch_norm, 1);
    const PlanSummary s = summarise(m);
    CHECK(s.upsampling == 3);
    CHECK(s.concatenation == 3);
    CHECK(std::count(s.folded.begin(), s.folded.end(), "UpSampling2D") == 3);
    CHECK(std::count(s.folded.begin(), s.folded.end(), "Concatenate") == 3);
    CHECK(s.folded.size() == 6);
  }
  // The corrected seed autoencoder upsamples with Conv2DTranspose: only its joins fuse.
  const PlanSummary s = summarise(seed_autoencoder({16, 16, 3}, true, 5, 2));
  CHECK(s.upsampling == 0);
  CHECK(s.concatenation == 2);
}

TEST_CASE("fusion: pairs whose semantics or readers do not allow it are left alone") {
  auto in = Input({8, 8, 4});
  auto skip = Conv2D(4, 3).padding("same")(in);
  auto plan_of = [&](const SymbolicTensor& out) { return summarise(Model(in, out)); };
  // Not the phase kernels' upsampling: bilinear, factor 3, or a convolution other than 2x2 stride-1 'same'.
  CHECK(plan_of(Conv2D(3, 2).padding("same")(UpSampling2D(2).interpolation("bilinear")(in))).folded.empty());
  CHECK(plan_of(Conv2D(3, 2).padding("same")(UpSampling2D(3)(in))).folded.empty());
  CHECK(plan_of(Conv2D(3, 3).padding("same")(UpSampling2D(2)(in))).folded.empty());
  CHECK(plan_of(Conv2D(3, 2).padding("valid")(UpSampling2D(2)(in))).folded.empty());
  CHECK(plan_of(Conv2D(3, 2).padding("same").strides(2)(UpSampling2D(2)(in))).folded.empty());
  CHECK(plan_of(Conv2D(3, 2).padding("same").dilation_rate(2)(UpSampling2D(2)(in))).folded.empty());
  // Joined along height, not channels.
  CHECK(plan_of(Conv2D(3, 3)(concatenate({skip, in}, 1))).folded.empty());
  // Read by two layers, or a model output besides: someone needs the tensor itself.
  auto up = UpSampling2D(2)(in);
  CHECK(plan_of(add({Conv2D(3, 2).padding("same")(up), Conv2D(3, 2).padding("same")(up)})).folded.empty());
  auto joined = concatenate({skip, in});
  auto conv = Conv2D(3, 3).padding("same")(joined);
  CHECK(summarise(Model({in}, {conv, joined})).folded.empty());
  CHECK(summarise(Model({in}, {conv})).folded == std::vector<std::string>{"Concatenate"});
  // Not read by a Conv2D.
  CHECK(plan_of(MaxPooling2D(2)(concatenate({skip, in}))).folded.empty());
}

TEST_CASE("fusion: a fused model computes what the unfused one does, forward and backward") {
  struct Case {
    const char* name;
    Model model;
    Tensor x;
  };
  std::vector<Case> cases;
  cases.push_back({"U-Net", unet({32, 24, 1}, 3, 4, 3, 0.5, false, 2), random_tensor({2, 32, 24, 1}, 3, -1, 1)});
  cases.push_back({"U-Net with BN", unet({16, 16, 2}, 2, 3, 2, 0.5, true, 4), random_tensor({3, 16, 16, 2}, 5, -1, 1)});
  {
    // Linear, strided and logits-only activations on fused convolutions; a three-way join.
    auto in = Input({10, 14, 3});
    auto a = Conv2D(5, 3).padding("same").activation("relu")(in);
    auto up = Conv2D(6, 2).padding("same").activation("tanh")(UpSampling2D(2)(a));
    auto down = Conv2D(7, 3).strides(2).padding("same")(concatenate({in, a, Conv2D(2, 1)(in)}));
    auto out = Conv2D(4, 2).padding("same").activation("softmax")(
        UpSampling2D(2)(concatenate({down, MaxPooling2D(2)(a), MaxPooling2D(2)(MaxPooling2D(2)(up))}, -1)));
    cases.push_back({"mixed", Model(in, out, 6), random_tensor({2, 10, 14, 3}, 7, -1, 1)});
  }
  for (Case& c : cases) {
    CAPTURE(std::string(c.name));
    REQUIRE(!summarise(c.model).folded.empty());
    for (DType dtype : {DType::F32, DType::F64}) {
      CAPTURE(std::string(dtype_name(dtype)));
      c.model.to(dtype);
      const Tensor x = c.x.to(dtype);
      const std::vector<Tensor> fused = step(c.model, x, true), unfused = step(c.model, x, false);
      REQUIRE(fused.size() == unfused.size());
      // A conv bias before BatchNormalization has a gradient of exactly zero, computed as rounding noise (~1e-6 in
      // float32) that differs with the order of the sums: each result is judged on at least a tenth of the largest.
      double floor = 0;
      for (const Tensor& t : unfused) floor = std::max(floor, 0.1 * largest_magnitude(t));
      for (size_t i = 0; i < fused.size(); ++i) {
        CAPTURE(i);  // 0: the output, 1: the input's gradient, then the weights' in trainable_weights() order
        CHECK(relative_difference(fused[i], unfused[i], floor) < (dtype == DType::F32 ? 1e-5 : 1e-12));
      }
    }
  }
}

TEST_CASE("fusion: a fused U-Net gives the same bits on 1, 2 and 3 threads") {
  Model m = unet({32, 32, 1}, 2, 8, 3, 0.5, false, 8);
  const Tensor x = random_tensor({2, 32, 32, 1}, 9, -1, 1, DType::F32);
  const int saved = omp_get_max_threads();
  std::vector<std::vector<Tensor>> runs;
  for (int n : {1, 2, 3}) {
    omp_set_num_threads(n);
    runs.push_back(step(m, x, true));
  }
  omp_set_num_threads(saved);
  for (size_t i = 0; i < runs[0].size(); ++i) {
    CAPTURE(i);
    CHECK(runs[0][i].to_vector() == runs[1][i].to_vector());
    CHECK(runs[0][i].to_vector() == runs[2][i].to_vector());
  }
}

TEST_CASE("fusion: a layer hook and set_fusion(false) see every layer's own output") {
  Model m = unet({16, 16, 1}, 2, 2, 2, 0.0, false, 3);
  const Tensor x = random_tensor({1, 16, 16, 1}, 4, -1, 1, DType::F32);
  CHECK(m.fusion());
  m.set_fusion(false);
  const Tensor unfused = m.predict(x);
  m.set_fusion(true);
  std::vector<std::string> seen;
  m.set_layer_hook([&](const Layer& layer, const std::vector<Variable>&, const Variable&, double) {
    seen.push_back(layer.class_name());
  });
  const Tensor hooked = m.predict(x);
  CHECK(hooked.to_vector() == unfused.to_vector());  // the hook made it run unfused
  CHECK(std::count(seen.begin(), seen.end(), "UpSampling2D") == 2);
  CHECK(std::count(seen.begin(), seen.end(), "Concatenate") == 2);
  CHECK(seen.size() + 1 == m.layers().size());  // every layer but the Input
  m.set_layer_hook(nullptr);
  const Tensor fused = m.predict(x);
  CHECK(relative_difference(fused, unfused) < 1e-5);
  // A hook that asks for the calls as run keeps the fusion: the pairs are one call, of the Conv2D.
  seen.clear();
  int joined_inputs = 0;
  m.set_layer_hook([&](const Layer& layer, const std::vector<Variable>& inputs, const Variable&, double) {
    seen.push_back(layer.class_name());
    joined_inputs += inputs.size() == 2;  // a Conv2D reading both parts of a join
  }, Model::HookCalls::as_run);
  CHECK(m.predict(x).to_vector() == fused.to_vector());
  CHECK(std::count(seen.begin(), seen.end(), "UpSampling2D") == 0);
  CHECK(std::count(seen.begin(), seen.end(), "Concatenate") == 0);
  CHECK(joined_inputs == 2);
  CHECK(seen.size() + 5 == m.layers().size());  // neither the Input nor the 4 folded layers
}

TEST_CASE("fusion: the profiler counts a fused op with its convolution and keeps the folded layer's row") {
  Model m = unet({16, 16, 1}, 2, 2, 1, 0.0, false, 3);
  const auto layers = m.layers();
  const FusionPlan& plan = m.fusion_plan();
  profiler::set_enabled(true);
  profiler::reset();
  step(m, random_tensor({1, 16, 16, 1}, 4, -1, 1, DType::F32), true);
  const profiler::Report report = profiler::report();
  profiler::set_enabled(false);
  auto entry = [&](const std::string& name) -> const profiler::Entry* {
    for (const profiler::Entry& e : report.layers)
      if (e.name == name) return &e;
    return nullptr;
  };
  int fused = 0, folded = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    CAPTURE(layers[i]->name());
    const profiler::Entry* e = entry(layers[i]->name());
    if (plan.fused[i] != FusedWith::nothing) {  // the convolution does the pair's work, both ways
      ++fused;
      REQUIRE(e);
      CHECK(e->forward_calls >= 1);
      CHECK(e->backward_calls >= 1);
    }
    if (plan.folded[i]) {  // listed, with no op of its own
      ++folded;
      REQUIRE(e);
      CHECK(e->forward_calls == 0);
      CHECK(e->backward_calls == 0);
    }
  }
  CHECK(fused == 2);
  CHECK(folded == 2);
  bool fused_op = false;
  for (const profiler::Entry& e : report.ops) fused_op = fused_op || e.name.rfind("conv2d_upsample2x", 0) == 0;
  CHECK(fused_op);
}

TEST_CASE("fusion: TAPEGRAD_FUSION takes on or off, and names itself when it is anything else") {
  CHECK(parse_fusion_setting(nullptr));
  CHECK(parse_fusion_setting("on"));
  CHECK_FALSE(parse_fusion_setting("off"));
  CHECK_THROWS_WITH_AS(parse_fusion_setting("0"), "TAPEGRAD_FUSION='0' is not one of on, off", std::runtime_error);
}
