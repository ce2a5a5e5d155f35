// The per-epoch metric log of a run, in two forms: RUN_DIR/metrics.csv for spreadsheets and plotting, and
// RUN_DIR/metrics.jsonl (one JSON object per line) for programs. The history lives in the checkpoint too; a resumed
// run rewrites both files from it, so rows logged after the checkpoint it resumes from do not linger twice.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/metrics.h"

namespace tg::train {

struct EpochRecord {
  int64_t epoch = 0;        // 1-based, as printed
  int64_t global_step = 0;  // optimizer steps done at the end of this epoch
  double learning_rate = 0.0;
  double seconds = 0.0;     // wall time of the epoch (the one field that differs between identical runs)
  MetricLogs metrics;       // "loss", "pixel_accuracy", ..., "val_loss", ...

  nlohmann::json to_json() const;
  static EpochRecord from_json(const nlohmann::json& j);
};

// Metric names in log order: "loss" first, then the rest alphabetically; training metrics before "val_" ones.
std::vector<std::string> ordered_metric_names(const MetricLogs& metrics);

// The shortest decimal text that reads back as the same double ("nan", "inf", "-inf" for the others).
std::string format_number(double x);

class MetricLog {
 public:
  MetricLog(std::filesystem::path csv, std::filesystem::path jsonl);
  // Replaces both files with exactly these records (atomically, so a kill leaves the old or the new file).
  void rewrite(const std::vector<EpochRecord>& history);
  // Adds one row to each file. The CSV columns are fixed by the first row; a later metric missing from a row is
  // written as an empty cell.
  void append(const EpochRecord& record);

 private:
  std::string csv_row(const EpochRecord& r) const;
  std::filesystem::path csv_, jsonl_;
  std::vector<std::string> columns_;  // metric names after epoch, global_step, learning_rate, seconds
};

}  // namespace tg::train
