#include <doctest/doctest.h>
#include <omp.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include "data/synthetic.h"
#include "layers/layers.h"
#include "layers/zoo.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/fit.h"
#include "train/run_config.h"
#include "train/signals.h"
#include "tests/temp_dir.h"
#include "tests/train/train_test_util.h"

using namespace tg;
using namespace tg::train;
namespace fs = std::filesystem;

namespace {

using tg::testing::TempDir;

using tg::train::testing::bit_equal;
using tg::train::testing::quiet_run_options;
using tg::train::testing::range;
using tg::train::testing::read_text;
using tg::train::testing::shapes;
using tg::train::testing::small_unet;

// A small run that exercises every generator: shuffling, augmentation, dropout, BN statistics, a schedule.
struct SmallRun {
  std::shared_ptr<data::SyntheticDataset> data = shapes(16, 48);
  DataSource train{data, range(0, 40)};
  DataSource validation{data, range(40, 48)};

  Model model() const { return small_unet(); }

  FitOptions options(const fs::path& run_dir) const {
    FitOptions o = quiet_run_options(run_dir);
    o.augment->rotate90 = true;
    o.augment->brightness = 0.05;
    o.optimizer = {{"name", "adamw"},
                   {"learning_rate", 3e-3},
                   {"global_clipnorm", 1.0},
                   {"schedule", {{"name", "cosine"}, {"decay_steps", 15}, {"warmup_steps", 3}, {"warmup_target", 5e-3}}}};
    return o;
  }
};

// Every tensor (weights, BN statistics, optimizer moments) and the optimizer's scalars, bit for bit.
void check_same_checkpoint(const fs::path& a_path, const fs::path& b_path) {
  const Checkpoint a = load_checkpoint(a_path), b = load_checkpoint(b_path);
  REQUIRE(a.tensors.size() == b.tensors.size());
  size_t optimizer_tensors = 0;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    INFO("tensor " << a.tensors[i].name);
    CHECK(a.tensors[i].name == b.tensors[i].name);
    CHECK(bit_equal(a.tensors[i].tensor, b.tensors[i].tensor));
    optimizer_tensors += a.tensors[i].name.rfind("optimizer/", 0) == 0;
  }
  CHECK(optimizer_tensors > 0);
  CHECK(a.state.at("optimizer") == b.state.at("optimizer"));
  CHECK(a.state.at("global_step") == b.state.at("global_step"));
  CHECK(a.state.at("loader") == b.state.at("loader"));
}

void check_same_history(const std::vector<EpochRecord>& a, const std::vector<EpochRecord>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].metrics == b[i].metrics);  // exact doubles, every metric
    CHECK(a[i].learning_rate == b[i].learning_rate);
    CHECK(a[i].global_step == b[i].global_step);
  }
}

void check_same_weights(const Model& a, const Model& b) {
  const auto wa = a.weights(), wb = b.weights();
  REQUIRE(wa.size() == wb.size());
  for (size_t i = 0; i < wa.size(); ++i) {
    INFO("weight " << wa[i].name);
    CHECK(bit_equal(wa[i].variable.value(), wb[i].variable.value()));
  }
}

}  // namespace

TEST_CASE("fit: a tiny U-Net learns the synthetic shapes (validation Dice of the shapes above 0.9)" * doctest::test_suite("slow")) {
  const TempDir tmp;
  auto data = shapes(32, 160);
  DataSource train{data, range(0, 128)}, validation{data, range(128, 160)};
  Model model = unet({32, 32, 1}, 2, 8, 2, 0.0, false, 3);
  const fs::path dir = tmp / "learn";
  FitOptions o;
  o.epochs = 8;
  o.batch_size = 8;
  o.optimizer = {{"name", "adam"}, {"learning_rate", 3e-3}};
  o.monitor = "val_dice_1";
  o.run_dir = dir;
  o.progress = ProgressMode::Lines;
  o.console = false;
  const FitResult r = fit(model, train, &validation, o);

  REQUIRE(r.history.size() == 8);
  for (const EpochRecord& e : r.history)
    MESSAGE("epoch " << e.epoch << ": loss " << e.metrics.at("loss") << ", val_loss " << e.metrics.at("val_loss")
                     << ", val_dice_1 " << e.metrics.at("val_dice_1") << ", val_mean_iou "
                     << e.metrics.at("val_mean_iou"));
  CHECK(r.history.back().metrics.at("val_dice_1") > 0.9);
  CHECK(r.history.back().metrics.at("loss") < r.history.front().metrics.at("loss") / 4);
  CHECK(r.stop == StopReason::Completed);
  CHECK(r.global_step == 8 * 16);
  CHECK(r.best_value == doctest::Approx(r.history[r.best_epoch - 1].metrics.at("val_dice_1")));

  // The run folder: config with every setting, the log, metrics in both forms, last and best checkpoints.
  const nlohmann::json config = read_run_config(dir);
  CHECK(config.at("fit").at("batch_size") == 8);
  CHECK(config.at("fit").at("seed") == 0);
  CHECK(config.at("fit").at("optimizer").at("learning_rate") == 3e-3);
  CHECK(config.at("model") == model.config());
  const std::string csv = read_text(dir / "metrics.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 9);
  CHECK(csv.rfind("epoch,global_step,learning_rate,seconds,loss,", 0) == 0);
  CHECK(read_text(dir / "log.txt").find("Epoch 8/8") != std::string::npos);
  CHECK(fs::exists(r.last_checkpoint));
  CHECK(fs::exists(r.best_checkpoint));

  // The best checkpoint rebuilds the model and evaluates to the logged validation metrics.
  Model best = load_model(r.best_checkpoint);
  EvaluateOptions eo;
  eo.batch_size = 8;
  const MetricLogs m = evaluate(best, validation, eo, "val_");
  CHECK(m.at("val_dice_1") == r.best_value);
  CHECK(m.at("val_loss") == r.history[r.best_epoch - 1].metrics.at("val_loss"));
  CHECK_FALSE(best.training());
}

TEST_CASE("fit: same seed and threads give the same loss curve and weights, run to run") {
  SmallRun s;
  Model a = s.model(), b = s.model();
  FitOptions o = s.options({});
  o.epochs = 2;
  const FitResult ra = fit(a, s.train, &s.validation, o);
  o.workers = 3;  // how batches are prepared in the background must not matter
  const FitResult rb = fit(b, s.train, &s.validation, o);
  check_same_history(ra.history, rb.history);
  check_same_weights(a, b);
  CHECK(ra.history[0].metrics.at("loss") != ra.history[1].metrics.at("loss"));
}

namespace {
// Sets the OpenMP thread count for a scope and restores it, also when a REQUIRE leaves early.
class Threads {
 public:
  explicit Threads(int n) : saved_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~Threads() { omp_set_num_threads(saved_); }
  Threads(const Threads&) = delete;
  Threads& operator=(const Threads&) = delete;

 private:
  int saved_;
};
}  // namespace

TEST_CASE("fit: 1 and 2 threads train bit-identically, and a run may resume with another thread count" * doctest::test_suite("slow")) {
  // Large enough (32x32, 8 base filters, batch 8) that the convolutions, BN and the bias gradients cross their
  // parallel thresholds. Resuming with another thread count is allowed and gives the same run: every reduction has a
  // fixed order whatever the number of threads.
  SmallRun s;
  s.data = shapes(32, 40);
  s.train = {s.data, range(0, 32)};
  s.validation = {s.data, range(32, 40)};
  auto model = [] { return unet({32, 32, 1}, 2, 8, 2, 0.3, true, 5); };
  const TempDir tmp;
  auto options = [&](const fs::path& dir) {
    FitOptions o = s.options(dir);
    o.epochs = 2;  // 4 steps per epoch
    return o;
  };
  Model one = model(), two = model();
  FitResult r1, r2;
  {
    Threads t(1);
    r1 = fit(one, s.train, &s.validation, options(tmp / "one"));
  }
  {
    Threads t(2);
    r2 = fit(two, s.train, &s.validation, options(tmp / "two"));
  }
  check_same_history(r1.history, r2.history);
  check_same_weights(one, two);
  check_same_checkpoint(RunDir(tmp / "one").last_checkpoint(), RunDir(tmp / "two").last_checkpoint());

  // Stopped mid-epoch at 2 threads, resumed at 1.
  const fs::path dir = tmp / "switched";
  {
    Threads t(2);
    Model first = model();
    FitOptions o = options(dir);
    o.handle_signals = true;  // the library leaves signals alone unless asked
    o.on_step_end = [](const StepEnd& e) {
      if (e.global_step == 3) std::raise(SIGINT);
    };
    REQUIRE(fit(first, s.train, &s.validation, o).stop == StopReason::Signal);
  }
  Threads t(1);
  Model resumed = Model::from_config(read_run_config(dir).at("model"));
  FitOptions o = options(dir);
  o.resume = true;
  const FitResult r = fit(resumed, s.train, &s.validation, o);
  CHECK(r.global_step == 8);
  check_same_weights(one, resumed);
  check_same_history(r1.history, r.history);
  check_same_checkpoint(RunDir(tmp / "one").last_checkpoint(), RunDir(dir).last_checkpoint());
}

TEST_CASE("fit: stopped by a signal and resumed ends bit-identical to an uninterrupted run") {
  const TempDir tmp;
  SmallRun s;
  const fs::path straight_dir = tmp / "straight";
  Model straight = s.model();
  const FitResult full = fit(straight, s.train, &s.validation, s.options(straight_dir));
  REQUIRE(full.global_step == 15);

  for (const int64_t stop_at : {5, 7}) {  // at an epoch boundary, and in the middle of the second epoch
    CAPTURE(stop_at);
    const fs::path dir = tmp / ("resumed_" + std::to_string(stop_at));
    {
      Model first = s.model();
      FitOptions o = s.options(dir);
      o.handle_signals = true;  // the library leaves signals alone unless asked
      o.on_step_end = [&](const StepEnd& e) {
        if (e.global_step == stop_at) std::raise(SIGINT);
      };
      const FitResult r = fit(first, s.train, &s.validation, o);
      CHECK(r.stop == StopReason::Signal);
      CHECK(r.signal == SIGINT);
      CHECK(r.global_step == stop_at);
      CHECK(r.message.find("--resume " + dir.string()) != std::string::npos);
      CHECK_FALSE(stop_requested());
    }
    // A fresh process would rebuild the model from the run; so does this.
    Model resumed = Model::from_config(read_run_config(dir).at("model"));
    FitOptions o = s.options(dir);
    o.resume = true;
    o.workers = 2;
    const FitResult r = fit(resumed, s.train, &s.validation, o);
    CHECK(r.stop == StopReason::Completed);
    CHECK(r.global_step == 15);
    check_same_weights(straight, resumed);
    check_same_checkpoint(RunDir(straight_dir).last_checkpoint(), RunDir(dir).last_checkpoint());
    check_same_history(full.history, r.history);
    CHECK(read_text(dir / "metrics.jsonl").size() > 0);
    CHECK(std::count(std::istreambuf_iterator<char>(std::ifstream(dir / "metrics.csv").rdbuf()), {}, '\n') == 4);
  }
}

TEST_CASE("fit: a run killed mid-epoch resumes from its periodic checkpoint and still ends bit-identical") {
  const TempDir tmp;
  SmallRun s;
  const fs::path straight_dir = tmp / "straight_kill";
  Model straight = s.model();
  FitOptions so = s.options(straight_dir);
  fit(straight, s.train, &s.validation, so);

  const fs::path dir = tmp / "killed";
  {
    Model first = s.model();
    FitOptions o = s.options(dir);
    o.checkpoint_every = 3;
    o.on_step_end = [](const StepEnd& e) {
      if (e.global_step == 8) throw std::runtime_error("power cut");  // no chance to write anything
    };
    CHECK_THROWS_WITH(fit(first, s.train, &s.validation, o), "power cut");
  }
  // The newest checkpoint is the periodic one of global step 6, in the middle of epoch 2.
  CHECK(load_checkpoint(RunDir(dir).last_checkpoint()).state.at("global_step") == 6);
  CHECK(load_checkpoint(RunDir(dir).last_checkpoint()).state.at("step") == 1);
  Model resumed = Model::from_config(read_run_config(dir).at("model"));
  FitOptions o = s.options(dir);
  o.resume = true;
  o.checkpoint_every = 3;
  fit(resumed, s.train, &s.validation, o);
  check_same_weights(straight, resumed);
  check_same_checkpoint(RunDir(straight_dir).last_checkpoint(), RunDir(dir).last_checkpoint());
}

namespace {
// The synthetic shapes, except that one sample's image holds a NaN (a corrupt file, say).
class OnePoisonedSample : public data::Dataset {
 public:
  OnePoisonedSample(std::shared_ptr<const data::Dataset> base, size_t poisoned) : base_(std::move(base)), poisoned_(poisoned) {}
  size_t size() const override { return base_->size(); }
  const data::DatasetSpec& spec() const override { return base_->spec(); }
  data::Sample get(size_t index, Rng* rng) const override {
    data::Sample s = base_->get(index, rng);
    if (index == poisoned_) s.image.set_flat(17, std::numeric_limits<double>::quiet_NaN());
    return s;
  }
  std::string name(size_t index) const override { return base_->name(index); }

 private:
  std::shared_ptr<const data::Dataset> base_;
  size_t poisoned_;
};
}  // namespace

TEST_CASE("fit: a non-finite loss stops training, names the step and batch, and leaves the last checkpoint alone") {
  const TempDir tmp;
  SmallRun s;
  const auto poisoned = std::make_shared<OnePoisonedSample>(s.data, 13);
  const fs::path dir = tmp / "nan";
  // Without a relu on the way (relu maps NaN to 0), the bad pixel reaches the loss.
  const SymbolicTensor x = Input({16, 16, 1});
  Model model(x, Conv2D(2, 3).padding("same").activation("softmax")(x), 1);
  FitOptions o = s.options(dir);
  o.checkpoint_every = 1;
  o.keep_last = 20;
  o.augment.reset();  // brightness jitter would clip the NaN away
  int64_t failed_at = -1;
  try {
    fit(model, DataSource{poisoned, s.train.indices}, &s.validation, o);
  } catch (const NonFiniteLossError& e) {
    failed_at = e.global_step();
    const std::string msg = e.what();
    MESSAGE(msg);
    CHECK(msg.find("the loss is nan") != std::string::npos);
    CHECK(msg.find("(global step " + std::to_string(failed_at + 1) + ")") != std::string::npos);
    CHECK(msg.find("00013") != std::string::npos);  // the culprit is named
    CHECK(std::find(e.batch().begin(), e.batch().end(), size_t{13}) != e.batch().end());
    CHECK(msg.find("last.safetensors is untouched") != std::string::npos);
  }
  REQUIRE(failed_at >= 1);
  const RunDir run(dir);
  const Checkpoint last = load_checkpoint(run.last_checkpoint());
  CHECK(last.state.at("global_step") == failed_at);  // the last good step, nothing after it
  CHECK(run.step_checkpoints().back().first == failed_at);
  CHECK(fs::equivalent(run.last_checkpoint(), run.step_checkpoint(failed_at)));
  for (const NamedTensor& t : last.tensors)
    for (int64_t i = 0; i < t.tensor.numel(); ++i) REQUIRE(std::isfinite(t.tensor.flat(i)));
}

TEST_CASE("fit: early stopping restores the best weights, plateau lowers the rate, both logged") {
  const TempDir tmp;
  SmallRun s;
  const fs::path dir = tmp / "early";
  Model model = s.model();
  FitOptions o = s.options(dir);
  o.epochs = 6;
  o.keep_last = 10;
  o.monitor = "val_loss";
  o.early_stopping_patience = 2;
  o.early_stopping_min_delta = 10.0;  // only the first epoch (from +inf) counts as an improvement
  o.restore_best_weights = true;
  o.optimizer = {{"name", "adam"},
                 {"learning_rate", 1e-2},
                 {"schedule", {{"name", "reduce_on_plateau"}, {"monitor", "loss"}, {"patience", 0}, {"factor", 0.5},
                               {"min_delta", 10.0}}}};  // improves only from +inf: halves from epoch 2 on
  const FitResult r = fit(model, s.train, &s.validation, o);
  CHECK(r.stop == StopReason::EarlyStopping);
  REQUIRE(r.history.size() == 3);  // epoch 1, then two without improvement
  CHECK(r.message.find("restored the weights of epoch 1") != std::string::npos);
  // Every weight (trainable or not) equals epoch 1's checkpoint, and the last epoch's weights differed from it.
  const Checkpoint epoch1 = load_checkpoint(RunDir(dir).step_checkpoint(5));
  const Checkpoint epoch3 = load_checkpoint(RunDir(dir).step_checkpoint(15));
  auto find = [](const Checkpoint& c, const std::string& name) -> const Tensor* {
    for (const NamedTensor& t : c.tensors)
      if (t.name == name) return &t.tensor;
    return nullptr;
  };
  size_t differ_from_last = 0;
  for (const Weight& w : model.weights()) {
    INFO("weight " << w.name);
    const Tensor* best = find(epoch1, w.name);
    const Tensor* last = find(epoch3, w.name);
    REQUIRE(best != nullptr);
    REQUIRE(last != nullptr);
    CHECK(bit_equal(*best, w.variable.value()));
    differ_from_last += !bit_equal(*last, w.variable.value());
  }
  CHECK(differ_from_last > model.weights().size() / 2);
  // Logged: the rate each epoch trained with (Keras logs it before ReduceLROnPlateau acts).
  CHECK(r.history[0].learning_rate == doctest::Approx(1e-2));
  CHECK(r.history[1].learning_rate == doctest::Approx(1e-2));
  CHECK(r.history[2].learning_rate == doctest::Approx(5e-3));
}

TEST_CASE("fit: any file of an earlier run makes a folder taken, overwrite replaces them, a lock keeps others out") {
  const TempDir tmp;
  SmallRun s;
  const fs::path dir = tmp / "taken";
  FitOptions o = s.options(dir);
  o.epochs = 1;
  {
    Model model = s.model();
    fit(model, s.train, &s.validation, o);
  }
  // A folder that kept only best.safetensors, or only the report or the metrics, still holds a run.
  const RunDir run(dir);
  fs::remove_all(run.checkpoints() / "step-00000002.safetensors");
  for (const auto& p : run.step_checkpoints()) fs::remove(p.second);
  fs::remove(run.last_checkpoint());
  REQUIRE(fs::exists(run.best_checkpoint()));
  const std::string best_before = read_text(run.best_checkpoint());
  Model again = s.model();
  CHECK_THROWS_WITH_AS(fit(again, s.train, &s.validation, o), doctest::Contains("already holds a run"),
                       std::invalid_argument);
  CHECK(read_text(run.best_checkpoint()) == best_before);
  fs::remove(run.best_checkpoint());
  CHECK_THROWS_WITH_AS(fit(again, s.train, &s.validation, o), doctest::Contains("config.json"), std::invalid_argument);

  // While another process (here: another lock holder) trains in the folder, nobody else may.
  {
    RunLock other(run);
    o.overwrite = true;
    CHECK_THROWS_WITH_AS(fit(again, s.train, &s.validation, o), doctest::Contains("another process is training"),
                         std::runtime_error);
    CHECK(fs::exists(run.config()));  // nothing was removed
  }
  // overwrite: the earlier run's files go, a whole new run is written, other files stay.
  std::ofstream(dir / "notes.txt") << "mine";
  fit(again, s.train, &s.validation, o);
  CHECK(read_text(dir / "notes.txt") == "mine");
  CHECK(fs::exists(run.last_checkpoint()));
  o.resume = true;
  CHECK_THROWS_WITH_AS(fit(again, s.train, &s.validation, o), doctest::Contains("exclude each other"),
                       std::invalid_argument);
}

TEST_CASE("fit: refuses to overwrite a run, to resume with other settings, and unknown monitors") {
  const TempDir tmp;
  SmallRun s;
  const fs::path dir = tmp / "refuse";
  Model model = s.model();
  FitOptions o = s.options(dir);
  o.epochs = 1;
  fit(model, s.train, &s.validation, o);
  Model again = s.model();
  CHECK_THROWS_WITH_AS(fit(again, s.train, &s.validation, o), doctest::Contains("already holds a run"),
                       std::invalid_argument);
  o.resume = true;
  o.batch_size = 4;
  CHECK_THROWS_WITH_AS(fit(again, s.train, &s.validation, o), doctest::Contains("batch_size (was 8, now 4)"),
                       std::invalid_argument);
  o.batch_size = 8;
  Model other = unet({16, 16, 1}, 2, 8, 2, 0.3, true, 5);
  CHECK_THROWS_WITH_AS(fit(other, s.train, &s.validation, o), doctest::Contains("the model differs"),
                       std::invalid_argument);
  o.epochs = 2;  // more epochs are fine
  const FitResult r = fit(again, s.train, &s.validation, o);
  CHECK(r.history.size() == 2);

  // A checkpoint written before settings were added (here: augment's newer fields) resumes: missing means default.
  o.augment = data::AugmentOptions{.horizontal_flip = true};
  const fs::path older = tmp / "older";
  o.run_dir = older;
  o.resume = false;
  o.epochs = 1;
  Model first = s.model();
  fit(first, s.train, &s.validation, o);
  int rewritten = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(older / "checkpoints")) {
    if (e.is_symlink() || !e.is_regular_file()) continue;
    Checkpoint c = load_checkpoint(e.path());
    for (const char* added : {"elastic_sigma", "elastic_grid", "gamma", "blur_sigma", "noise_std"})
      c.state["fit"]["augment"].erase(added);
    save_checkpoint(e.path(), c);
    ++rewritten;
  }
  REQUIRE(rewritten > 0);
  o.resume = true;
  o.epochs = 2;
  Model resumed = s.model();
  CHECK(fit(resumed, s.train, &s.validation, o).history.size() == 2);

  FitOptions bad = s.options({});
  bad.monitor = "val_dice_7";
  CHECK_THROWS_WITH_AS(fit(again, s.train, &s.validation, bad), doctest::Contains("val_dice_1"), std::invalid_argument);
  bad = s.options({});
  bad.resume = true;
  CHECK_THROWS_WITH_AS(fit(again, s.train, &s.validation, bad), doctest::Contains("needs the run folder"),
                       std::invalid_argument);
  const fs::path empty = tmp / "empty";
  bad.run_dir = empty;
  CHECK_THROWS_WITH_AS(fit(again, s.train, &s.validation, bad), doctest::Contains("no checkpoint"), CheckpointError);
}

namespace {
// One epoch at learning rate 0 (the weights stay put, so every run scores the same model on the same batches) with
// these class weights: the epoch's logged metrics.
MetricLogs frozen_epoch(SmallRun& s, std::vector<double> class_weights, bool validate) {
  Model model = unet({16, 16, 1}, 2, 4, 2, 0.0, false, 5);
  FitOptions o = s.options({});
  o.epochs = 1;
  o.augment.reset();
  o.optimizer = {{"name", "sgd"}, {"learning_rate", 0.0}};
  o.class_weights = std::move(class_weights);
  return fit(model, s.train, validate ? &s.validation : nullptr, o).history.at(0).metrics;
}
}  // namespace

TEST_CASE("fit: class weights reach the training loss, one weight per true class") {
  // Weights {2, 2} double the loss, and {1, 0} plus {0, 1} split it between the two classes.
  SmallRun s;
  auto train_loss = [&](std::vector<double> class_weights) {
    return frozen_epoch(s, std::move(class_weights), false).at("loss");
  };
  const double plain = train_loss({});
  const double background = train_loss({1.0, 0.0}), shapes = train_loss({0.0, 1.0});
  CHECK(train_loss({2.0, 2.0}) == doctest::Approx(2 * plain).epsilon(1e-12));
  CHECK(background + shapes == doctest::Approx(plain).epsilon(1e-6));
  CHECK(background > 0.05 * plain);
  CHECK(shapes > 0.05 * plain);
  CHECK(train_loss({1.0, 3.0}) == doctest::Approx(background + 3 * shapes).epsilon(1e-6));
}

TEST_CASE("fit: class weights leave the validation loss alone, as Keras's class_weight does") {
  SmallRun s;
  const MetricLogs plain = frozen_epoch(s, {}, true), weighted = frozen_epoch(s, {2.0, 5.0}, true);
  CHECK(weighted.at("loss") > 1.5 * plain.at("loss"));  // the weights do reach training
  CHECK(weighted.at("val_loss") == plain.at("val_loss"));
}

TEST_CASE("fit: options round-trip through JSON, and unknown settings are named") {
  FitOptions o = SmallRun().options("run");
  o.mean = {0.5f};
  o.class_weights = {1.0, 3.0};
  const FitOptions back = FitOptions::from_json(nlohmann::json::parse(o.to_json().dump()));
  CHECK(back.to_json() == o.to_json());
  CHECK_THROWS_WITH_AS(FitOptions::from_json({{"epoch", 3}}), doctest::Contains("no setting 'epoch'"),
                       std::invalid_argument);
}

TEST_CASE("fit: a single sigmoid channel trains with binary crossentropy and two-class metrics") {
  SmallRun s;
  Model model = unet({16, 16, 1}, 1, 4, 2, 0.0, false, 2);
  FitOptions o = s.options({});
  o.epochs = 2;
  o.monitor = "val_dice_1";
  const FitResult r = fit(model, s.train, &s.validation, o);
  REQUIRE(r.history.size() == 2);
  CHECK(r.history[1].metrics.count("val_iou_1") == 1);
  CHECK(r.history[1].metrics.at("loss") < r.history[0].metrics.at("loss"));
  CHECK(std::isfinite(r.best_value));
}
