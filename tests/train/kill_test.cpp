// A run killed outright (SIGKILL: no handler, no cleanup) at arbitrary instants, checkpoints being written every
// step, still resumes to the same weights as a run that was never interrupted. The training runs in a child
// process: this same test program, re-run with only the (normally skipped) child test case.
#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "data/split.h"
#include "data/synthetic.h"
#include "layers/zoo.h"
#include "train/checkpoint.h"
#include "train/fit.h"
#include "tests/temp_dir.h"

extern char** environ;

// In a spawned child run with TG_KILL_AT_CHECKPOINT_WRITE=N only: the N-th fsync of a checkpoint's temporary file
// (written in full, not yet renamed over the checkpoint) cuts that file in half and kills the process, so the kill
// lands inside a checkpoint write for certain. This definition takes the place of libc's for the whole program;
// without the variable it is a plain fsync.
extern "C" int fsync(int fd) {
  static const char* kill_at = std::getenv("TG_KILL_AT_CHECKPOINT_WRITE");
  static int checkpoint_writes = 0;
  if (kill_at) {
    char target[4096];
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
    if (n > 0 && std::string_view(target, static_cast<size_t>(n)).find(".safetensors.tmp-") != std::string_view::npos &&
        ++checkpoint_writes == std::atoi(kill_at)) {
      struct stat st {};
      if (::fstat(fd, &st) == 0 && ::ftruncate(fd, st.st_size / 2) == 0) ::raise(SIGKILL);
    }
  }
  return static_cast<int>(::syscall(SYS_fsync, fd));
}

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

// Everything whose state a checkpoint must carry, on at once: validation, a clipped AdamW averaging its weights
// (use_ema) whose rate a plateau schedule halves (its wait counter running across epochs), early stopping with its
// own counter and the best weights to restore, dropout, BN and augmentation. Up to 6 epochs of 5 steps, a
// checkpoint every 2 steps.
struct FullRun {
  std::shared_ptr<data::SyntheticDataset> data = [] {
    data::SyntheticOptions o;
    o.count = 48;
    o.height = o.width = 16;
    o.seed = 4;
    o.num_classes = 3;
    return std::make_shared<data::SyntheticDataset>(o);
  }();
  DataSource train{data, data::all_indices(40)};
  DataSource validation{data, [] {
                          std::vector<size_t> v;
                          for (size_t i = 40; i < 48; ++i) v.push_back(i);
                          return v;
                        }()};

  Model model() const { return unet({16, 16, 1}, 3, 4, 2, 0.2, true, 13); }
  FitOptions options(const fs::path& dir, bool resume) const {
    FitOptions o;
    o.epochs = 6;
    o.batch_size = 8;
    o.seed = 21;
    o.augment = data::AugmentOptions{};
    o.augment->horizontal_flip = true;
    o.augment->brightness = 0.05;
    o.optimizer = {{"name", "adamw"},
                   {"learning_rate", 4e-3},
                   {"global_clipnorm", 0.5},
                   {"use_ema", true},  // the checkpoints' model tensors are averages; the raw weights resume
                   {"ema_momentum", 0.5},
                   {"schedule", {{"name", "reduce_on_plateau"}, {"monitor", "val_loss"}, {"patience", 2},
                                 {"factor", 0.5}, {"min_delta", 0.01}}}};
    o.monitor = "val_mean_iou";  // improves by less than min_delta in epochs 3 and 4: stops after epoch 4
    o.early_stopping_patience = 2;
    o.early_stopping_min_delta = 0.02;
    o.restore_best_weights = true;
    o.run_dir = dir;
    o.resume = resume;
    o.checkpoint_every = 2;
    o.keep_last = 3;
    o.progress = ProgressMode::Off;
    o.console = false;
    return o;
  }
};

// Starts this test program running only the child case, training in `dir` (resuming when it has checkpoints).
// `env` adds variables for the child (the run to do, where to kill it).
pid_t spawn_child(const fs::path& dir, std::vector<std::string> env = {}) {
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args = {self, "--no-skip", "--test-case=train child: one training run (spawned)"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = std::move(env);
  env_strings.push_back("TG_KILL_TEST_RUN_DIR=" + dir.string());
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
  if (std::getenv("TG_KILL_TEST_FULL")) {
    FullRun f;
    Model model = f.model();
    fit(model, f.train, &f.validation, f.options(dir, RunDir(dir).has_checkpoint()));
    return;
  }
  KillRun k;
  Model model = k.model();
  fit(model, k.train, nullptr, k.options(dir, RunDir(dir).has_checkpoint()));
}

TEST_CASE("fit: killed with SIGKILL at arbitrary instants, resumed each time, ends bit-identical" * doctest::test_suite("slow")) {
  KillRun k;
  const tg::testing::TempDir tmp;
  const fs::path straight_dir = tmp / "straight", dir = tmp / "run";
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
}

namespace {
// The state a checkpoint carries, less the wall times that differ between any two runs and the run's own folder
// and resume flag.
nlohmann::json without_seconds(nlohmann::json state) {
  for (nlohmann::json& epoch : state["history"]) epoch.erase("seconds");
  state["fit"].erase("run_dir");
  state["fit"].erase("resume");
  return state;
}
}  // namespace

TEST_CASE("fit: killed inside checkpoint writes and resumed in fresh processes, everything on, ends bit-identical" * doctest::test_suite("slow")) {
  FullRun f;
  const tg::testing::TempDir tmp;
  const fs::path straight_dir = tmp / "straight", dir = tmp / "run";
  Model straight = f.model();
  const FitResult full = fit(straight, f.train, &f.validation, f.options(straight_dir, false));
  MESSAGE("uninterrupted: " << full.global_step << " steps, " << full.history.size() << " epochs, " << full.message);
  // The run changed its rate on a plateau and stopped early, so both counters decide what happens after a resume.
  REQUIRE(full.global_step >= 20);
  CHECK(full.history.front().learning_rate != full.history.back().learning_rate);
  CHECK(full.stop == StopReason::EarlyStopping);

  // Each fresh process is killed in its second checkpoint write, so the run resumes from nearly every checkpoint,
  // including ones where the plateau schedule and early stopping are counting epochs without improvement.
  const RunDir run(dir);
  const fs::path checkpoints = run.last_checkpoint().parent_path();
  int kills = 0;
  bool plateau_counting = false, stopping_counting = false;
  for (;;) {
    REQUIRE(kills < 40);
    int status = 0;
    ::waitpid(spawn_child(dir, {"TG_KILL_TEST_FULL=1", "TG_KILL_AT_CHECKPOINT_WRITE=2"}), &status, 0);
    if (WIFEXITED(status)) {
      REQUIRE(WEXITSTATUS(status) == 0);
      break;
    }
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    ++kills;
    // It died inside a write: the torn temporary file is there, and the newest whole checkpoint loads.
    bool torn = false;
    for (const auto& e : fs::directory_iterator(checkpoints))
      torn = torn || e.path().filename().string().find(".tmp-") != std::string::npos;
    CHECK(torn);
    const nlohmann::json state = load_latest_checkpoint(run).state;
    plateau_counting = plateau_counting || state.at("optimizer").at("schedule").at("state").at("wait").get<int>() > 0;
    stopping_counting = stopping_counting || state.at("early_stopping").at("wait").get<int>() > 0;
  }
  MESSAGE("killed " << kills << " times inside a checkpoint write");
  CHECK(kills >= 6);
  CHECK(plateau_counting);
  CHECK(stopping_counting);
  for (const auto& e : fs::directory_iterator(checkpoints))  // the torn files were cleared away on resume
    CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);

  for (const bool best : {false, true}) {
    CAPTURE(best);
    const RunDir a_run(straight_dir);
    const Checkpoint a = load_checkpoint(best ? a_run.best_checkpoint() : a_run.last_checkpoint());
    const Checkpoint b = load_checkpoint(best ? run.best_checkpoint() : run.last_checkpoint());
    REQUIRE(a.tensors.size() == b.tensors.size());
    for (size_t i = 0; i < a.tensors.size(); ++i) {
      INFO(a.tensors[i].name);
      CHECK(a.tensors[i].name == b.tensors[i].name);
      CHECK(std::memcmp(a.tensors[i].tensor.bytes(), b.tensors[i].tensor.bytes(), a.tensors[i].tensor.nbytes()) == 0);
    }
    CHECK(without_seconds(a.state) == without_seconds(b.state));
  }
}
