// A run killed outright (SIGKILL: no handler, no cleanup) at arbitrary instants, checkpoints being written every
// step, still resumes to the same weights as a run that was never interrupted. The training runs in a child
// process: this same test program, re-run with only the (normally skipped) child test case.
#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "data/synthetic.h"
#include "layers/zoo.h"
#include "train/checkpoint.h"
#include "train/fit.h"

extern char** environ;

using namespace tg;
using namespace tg::train;
namespace fs = std::filesystem;

namespace {

struct KillRun {
  std::shared_ptr<data::SyntheticDataset> data = [] {
    data::SyntheticOptions o;
    o.count = 40;
    o.height = o.width = 16;
    o.seed = 3;
    o.num_classes = 2;
    return std::make_shared<data::SyntheticDataset>(o);
  }();
  DataSource train{data, {}};

  Model model() const { return unet({16, 16, 1}, 2, 4, 2, 0.2, true, 9); }
  FitOptions options(const fs::path& dir, bool resume) const {
    FitOptions o;
    o.epochs = 4;
    o.batch_size = 4;  // 10 steps per epoch, 40 in all
    o.seed = 8;
    o.augment = data::AugmentOptions{};
    o.augment->vertical_flip = true;
    o.monitor = "loss";
    o.run_dir = dir;
    o.resume = resume;
    o.checkpoint_every = 1;
    o.keep_last = 2;
    o.progress = ProgressMode::Off;
    o.console = false;
    return o;
  }
};

// Starts this test program running only the child case, training in `dir` (resuming when it has checkpoints).
pid_t spawn_child(const fs::path& dir) {
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args = {self, "--no-skip", "--test-case=train child: one training run (spawned)"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = {"TG_KILL_TEST_RUN_DIR=" + dir.string()};
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv.data(), envp.data()) == 0);
  return pid;
}

int64_t newest_step(const RunDir& run) {
  const auto steps = run.step_checkpoints();
  return steps.empty() ? 0 : steps.back().first;
}

}  // namespace

TEST_CASE("train child: one training run (spawned)" * doctest::skip()) {
  const char* dir = std::getenv("TG_KILL_TEST_RUN_DIR");
  REQUIRE(dir != nullptr);
  KillRun k;
  Model model = k.model();
  fit(model, k.train, nullptr, k.options(dir, RunDir(dir).has_checkpoint()));
}

TEST_CASE("fit: killed with SIGKILL at arbitrary instants, resumed each time, ends bit-identical") {
  KillRun k;
  const fs::path straight_dir = fs::temp_directory_path() / ("tg_kill_straight_" + std::to_string(::getpid()));
  const fs::path dir = fs::temp_directory_path() / ("tg_kill_run_" + std::to_string(::getpid()));
  fs::remove_all(straight_dir);
  fs::remove_all(dir);
  Model straight = k.model();
  fit(straight, k.train, nullptr, k.options(straight_dir, false));

  const RunDir run(dir);
  int kills = 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    const pid_t child = spawn_child(dir);
    // Let it make some progress past where it started, then kill it wherever it is (often inside a write).
    const int64_t start = newest_step(run);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline && newest_step(run) < start + 3 + attempt % 3)
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    std::this_thread::sleep_for(std::chrono::microseconds(700 * attempt));
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    if (WIFEXITED(status)) break;  // it finished first
    ++kills;
    // Whatever the instant, a readable checkpoint is left behind.
    CHECK_NOTHROW(load_latest_checkpoint(run));
  }
  int status = 0;
  ::waitpid(spawn_child(dir), &status, 0);  // the last resume runs to the end
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  MESSAGE("killed " << kills << " times before the run finished");
  CHECK(kills >= 2);
  const Checkpoint a = load_checkpoint(RunDir(straight_dir).last_checkpoint());
  const Checkpoint b = load_latest_checkpoint(run);
  CHECK(b.state.at("global_step") == 40);
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    INFO(a.tensors[i].name);
    CHECK(a.tensors[i].name == b.tensors[i].name);
    CHECK(std::memcmp(a.tensors[i].tensor.bytes(), b.tensors[i].tensor.bytes(), a.tensors[i].tensor.nbytes()) == 0);
  }
  CHECK(a.state.at("optimizer") == b.state.at("optimizer"));
  REQUIRE(a.state.at("history").size() == 4);
  REQUIRE(b.state.at("history").size() == 4);
  for (size_t e = 0; e < 4; ++e) {
    nlohmann::json ha = a.state["history"][e], hb = b.state["history"][e];
    ha.erase("seconds");  // wall time, the one thing that differs
    hb.erase("seconds");
    CHECK(ha == hb);
  }
  fs::remove_all(dir);
  fs::remove_all(straight_dir);
}
