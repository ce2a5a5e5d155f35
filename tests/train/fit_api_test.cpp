// fit as a library user meets it: the mode it leaves the model in, hooks that stop training, signals and threads
// left alone unless asked, validation_split, and report.html in the run folder.
#include <doctest/doctest.h>
#include <omp.h>

#include <csignal>
#include <fstream>
#include <iterator>

#include "autograd/tape.h"
#include "tests/train/train_test_util.h"
#include "train/checkpoint.h"
#include "train/fit.h"
#include "train/run_config.h"

using namespace tg;
using namespace tg::train;
using namespace tg::train::testing;
namespace fs = std::filesystem;

namespace {
struct Setup {
  std::shared_ptr<data::SyntheticDataset> data = shapes(16, 48);
  DataSource train{data, range(0, 40)};
  DataSource validation{data, range(40, 48)};

  FitOptions options(const fs::path& run_dir = {}) const {
    FitOptions o;
    o.epochs = 3;
    o.batch_size = 8;  // 5 steps per epoch
    o.seed = 42;
    o.optimizer = {{"name", "adam"}, {"learning_rate", 3e-3}};
    o.run_dir = run_dir;
    o.progress = ProgressMode::Off;
    o.console = false;
    return o;
  }
};

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

void (*sigint_handler())(int) {
  struct sigaction now {};
  ::sigaction(SIGINT, nullptr, &now);
  return now.sa_handler;
}
}  // namespace

TEST_CASE("fit api: the model leaves fit in the mode it came in, after fit predictions repeat and BN stays put") {
  Setup s;
  Model model = small_unet();  // dropout and BatchNormalization
  REQUIRE_FALSE(model.training());
  FitOptions o = s.options();
  o.epochs = 1;
  bool trained_in_training_mode = false;
  o.on_step_end = [&](const StepEnd&) { trained_in_training_mode = model.training(); };
  fit(model, s.train, &s.validation, o);
  CHECK(trained_in_training_mode);
  CHECK_FALSE(model.training());

  const Tensor image = s.data->get(40).image.reshape({1, 16, 16, 1});
  std::vector<Tensor> moving_before;
  for (const Weight& w : model.non_trainable_weights()) moving_before.push_back(w.variable.value().clone());
  REQUIRE_FALSE(moving_before.empty());
  {
    NoGrad no_grad;
    const Tensor first = model(Variable(image)).value().clone();
    const Tensor second = model(Variable(image)).value().clone();
    CHECK(bit_equal(first, second));
    const std::vector<Weight> moving = model.non_trainable_weights();
    for (size_t i = 0; i < moving.size(); ++i) CHECK(bit_equal(moving[i].variable.value(), moving_before[i]));
  }

  // A model the caller had put in training mode stays there.
  model.train();
  fit(model, s.train, &s.validation, o);
  CHECK(model.training());
}

TEST_CASE("fit api: a step hook stops training with a checkpoint, and the run resumes bit-identical") {
  Setup s;
  const TempDir straight_dir, dir;
  Model straight = small_unet();
  fit(straight, s.train, &s.validation, s.options(straight_dir.path()));

  Model first = small_unet();
  FitOptions o = s.options(dir.path());
  o.on_step_end = [](StepEnd& e) { e.stop_training = e.global_step == 7; };
  const FitResult r = fit(first, s.train, &s.validation, o);
  CHECK(r.stop == StopReason::Requested);
  CHECK(r.global_step == 7);
  CHECK(r.message.find("Stopped by a hook at epoch 2, step 2 (global step 7)") != std::string::npos);
  CHECK(load_checkpoint(RunDir(dir.path()).last_checkpoint()).state.at("global_step") == 7);

  Model resumed = Model::from_config(read_run_config(dir.path()).at("model"));
  o.on_step_end = nullptr;
  o.resume = true;
  const FitResult done = fit(resumed, s.train, &s.validation, o);
  CHECK(done.stop == StopReason::Completed);
  CHECK(done.global_step == 15);
  CHECK(same_weights(straight, resumed));
}

TEST_CASE("fit api: an epoch hook stops training after that epoch") {
  Setup s;
  Model model = small_unet();
  FitOptions o = s.options();
  o.on_epoch_end = [](EpochEnd& e) { e.stop_training = e.record.epoch == 1; };
  const FitResult r = fit(model, s.train, &s.validation, o);
  CHECK(r.stop == StopReason::Requested);
  CHECK(r.epochs_completed == 1);
  CHECK(r.history.size() == 1);
  CHECK(r.message.find("after epoch 1") != std::string::npos);
}

TEST_CASE("fit api: signal handlers and the thread count are the application's unless the options ask") {
  Setup s;
  Model model = small_unet();
  FitOptions o = s.options();
  o.epochs = 1;
  const auto before = sigint_handler();
  const int threads_before = omp_get_max_threads();
  const int asked = threads_before == 1 ? 2 : 1;
  bool handler_untouched = false, handler_installed = false;
  int threads_inside = 0;
  o.on_step_end = [&](const StepEnd&) {
    handler_untouched = sigint_handler() == before;
    threads_inside = omp_get_max_threads();
  };
  fit(model, s.train, &s.validation, o);
  CHECK(handler_untouched);
  CHECK(threads_inside == threads_before);

  o.handle_signals = true;
  o.threads = asked;
  o.on_step_end = [&](const StepEnd&) {
    handler_installed = sigint_handler() != before;
    threads_inside = omp_get_max_threads();
  };
  fit(model, s.train, &s.validation, o);
  CHECK(handler_installed);
  CHECK(threads_inside == asked);
  const bool handler_restored = sigint_handler() == before;
  CHECK(handler_restored);
  CHECK(omp_get_max_threads() == threads_before);
}

TEST_CASE("fit api: validation_split validates on the last fifth, and a run folder gets report.html") {
  Setup s;
  const TempDir dir;
  Model model = small_unet();
  FitOptions o = s.options(dir.path());
  o.epochs = 2;
  o.validation_split = 0.2;  // of the 40 training samples: 32 train, samples 32..39 validate
  o.report_samples = 3;
  const FitResult r = fit(model, s.train, nullptr, o);
  REQUIRE(r.history.size() == 2);
  CHECK(r.history[1].metrics.count("val_loss") == 1);
  CHECK(r.monitor == "val_loss");
  const nlohmann::json config = read_run_config(dir.path());
  CHECK(config.at("data").at("train_samples") == 32);
  CHECK(config.at("data").at("validation_samples") == 8);
  CHECK(config.at("fit").at("validation_split") == 0.2);

  const std::string html = read_text(dir / "report.html");
  CHECK(html.find("<title>tapegrad: " + model.name() + "</title>") != std::string::npos);
  CHECK(html.find("epoch 2 of 2, step 8") != std::string::npos);
  CHECK(count(html, " prediction' src='data:image/png;base64,") == 3);
  CHECK(html.find("&quot;validation_split&quot;: 0.2") != std::string::npos);
  CHECK(html.find(s.data->name(32)) != std::string::npos);  // the first validation sample
}
