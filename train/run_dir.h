// The layout of a training run's folder, in one place:
//   RUN_DIR/config.json                    every setting of the run (defaults and seed included) and the model config
//   RUN_DIR/log.txt                        the run's log (appended to by resumed runs)
//   RUN_DIR/metrics.csv, metrics.jsonl     one row per epoch
//   RUN_DIR/checkpoints/step-00001234.safetensors   the last K checkpoints, by global step
//   RUN_DIR/checkpoints/last.safetensors   the newest checkpoint
//   RUN_DIR/checkpoints/best.safetensors   the checkpoint with the best monitored metric
//   RUN_DIR/profile.txt                    the profiler's table, when FitOptions::profile_steps asks for it
#pragma once
#include <cstdint>
#include <filesystem>
#include <utility>
#include <vector>

namespace tg::train {

struct RunDir {
  std::filesystem::path root;

  explicit RunDir(std::filesystem::path root_dir) : root(std::move(root_dir)) {}
  std::filesystem::path config() const { return root / "config.json"; }
  std::filesystem::path log() const { return root / "log.txt"; }
  std::filesystem::path metrics_csv() const { return root / "metrics.csv"; }
  std::filesystem::path metrics_jsonl() const { return root / "metrics.jsonl"; }
  std::filesystem::path checkpoints() const { return root / "checkpoints"; }
  std::filesystem::path last_checkpoint() const { return checkpoints() / "last.safetensors"; }
  std::filesystem::path best_checkpoint() const { return checkpoints() / "best.safetensors"; }
  std::filesystem::path step_checkpoint(int64_t global_step) const;

  // The step-numbered checkpoints present, oldest first.
  std::vector<std::pair<int64_t, std::filesystem::path>> step_checkpoints() const;
  // Whether any checkpoint (last or step-numbered) exists.
  bool has_checkpoint() const;
  // The files of an earlier run present here (config, logs, metrics, report, profile, any checkpoint): empty when none.
  std::vector<std::filesystem::path> run_files() const;
  std::filesystem::path report() const { return root / "report.html"; }
  std::filesystem::path profile() const { return root / "profile.txt"; }
  std::filesystem::path lock_file() const { return root / ".tapegrad.lock"; }
};

// An exclusive advisory lock (flock) on RUN_DIR/.tapegrad.lock for as long as it lives, so that two processes never
// train into one folder at once. The kernel drops it when the process dies, so a killed run never leaves it stuck.
class RunLock {
 public:
  // Throws std::runtime_error naming the folder when another process holds it.
  explicit RunLock(const RunDir& run);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace tg::train
