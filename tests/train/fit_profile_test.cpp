#include <doctest/doctest.h>

#include "autograd/profiler.h"
#include "train/fit.h"
#include "train/run_dir.h"
#include "tests/train/train_test_util.h"

using namespace tg;
using namespace tg::train;
using tg::train::testing::range;
using tg::train::testing::read_text;
using tg::train::testing::shapes;
using tg::train::testing::small_unet;
using tg::train::testing::TempDir;

namespace {
const profiler::Entry* find(const std::vector<profiler::Entry>& entries, const std::string& name) {
  for (const profiler::Entry& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

FitOptions profiled(const std::filesystem::path& run_dir, int64_t steps) {
  FitOptions o;
  o.epochs = 2;
  o.batch_size = 8;  // 5 steps per epoch, validation after each
  o.seed = 3;
  o.run_dir = run_dir;
  o.progress = ProgressMode::Off;
  o.console = false;
  o.profile_steps = steps;
  return o;
}

int64_t conv_layers(const Model& model) {
  int64_t n = 0;
  for (const auto& layer : model.layers()) n += layer->class_name().rfind("Conv2D", 0) == 0;
  return n;
}
}  // namespace

TEST_CASE("fit: profile_steps profiles the steps after the first, with the loader's wait and the metrics as rows") {
  const auto data = shapes(16, 48);
  TempDir tmp;
  Model model = small_unet();
  fit(model, {data, range(0, 40)}, nullptr, profiled(tmp.path() / "run", 6));  // steps 2-7, across an epoch's end
  const profiler::Report r = profiler::report();
  int64_t conv_calls = 0;
  for (const profiler::Entry& e : r.ops)
    if (e.name.rfind("conv", 0) == 0) conv_calls += e.forward_calls;
  CHECK(conv_calls == 6 * conv_layers(model));  // the end-of-epoch validation pass is not counted
  for (const char* region : {"waiting for the loader", "training metrics", "optimizer step"}) {
    CAPTURE(region);
    const profiler::Entry* e = find(r.regions, region);
    REQUIRE(e);
    CHECK(e->forward_calls == 6);
  }
  CHECK_FALSE(profiler::enabled());
  const RunDir run(tmp.path() / "run");
  const std::string table = read_text(run.profile());
  CHECK(table.find("mean of 6 steps") != std::string::npos);
  CHECK(table.find("waiting for the loader") != std::string::npos);
  CHECK(table.find("convolutions (ops conv*)") != std::string::npos);
  CHECK(read_text(run.log()).find("Profile of training steps up to global step 7") != std::string::npos);
  bool listed = false;
  for (const auto& p : run.run_files()) listed = listed || p == run.profile();
  CHECK(listed);  // an earlier run's profile makes a folder taken, and --overwrite removes it
}

TEST_CASE("fit: a run shorter than profile_steps reports the steps it profiled, and no profile without it") {
  const auto data = shapes(16, 48);
  TempDir tmp;
  Model model = small_unet();
  fit(model, {data, range(0, 40)}, nullptr, profiled(tmp.path() / "long", 100));
  CHECK(read_text(RunDir(tmp.path() / "long").profile()).find("mean of 9 steps") != std::string::npos);
  Model other = small_unet();
  fit(other, {data, range(0, 40)}, nullptr, profiled(tmp.path() / "none", 0));
  CHECK_FALSE(std::filesystem::exists(RunDir(tmp.path() / "none").profile()));
  FitOptions negative = profiled(tmp.path() / "negative", -1);
  CHECK_THROWS_WITH_AS(fit(other, {data, range(0, 40)}, nullptr, negative), "fit: profile_steps must be >= 0",
                       std::invalid_argument);
}
