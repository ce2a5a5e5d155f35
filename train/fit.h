// fit(): the training loop, Keras's model.fit for segmentation, with checkpoints that resume exactly.
//
// Every step is a pure function of (seed, global step) and the state before it: the batch comes from the loader's
// position (its order and augmentation are functions of seed, epoch and position), the dropout generator is reset
// to Rng::derive(seed, kDropoutStream, global_step), and every kernel reduces in a fixed order. A run interrupted
// (by a signal, or killed outright) and resumed from RUN_DIR therefore ends with the same weights, bit for bit, as
// a run that was never interrupted, given the same seed and thread count.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/augment.h"
#include "data/dataset.h"
#include "layers/model.h"
#include "train/metric_log.h"
#include "train/metrics.h"
#include "train/progress.h"

namespace tg::train {

// Stream ids for Rng::derive(seed, stream, global_step).
constexpr uint64_t kDropoutStream = 0xd409'0a7ULL;

// Some samples of a dataset (all of them when `indices` is empty).
struct DataSource {
  std::shared_ptr<const data::Dataset> dataset;
  std::vector<size_t> indices;
};

struct EpochEnd;
struct StepEnd;

struct FitOptions {
  // Schedule and data.
  int epochs = 1;
  int batch_size = 32;
  int64_t steps_per_epoch = 0;     // 0: one pass over the training samples (the last batch may be smaller)
  int validation_batch_size = 0;   // 0: batch_size
  int64_t validation_steps = 0;    // 0: the whole validation set
  bool shuffle = true;
  std::optional<data::AugmentOptions> augment;  // training batches only
  std::vector<float> mean, std;    // per-channel normalisation after augmentation; empty: images in [0, 1]
  int workers = 1;                 // loader threads (results do not depend on it)
  uint64_t seed = 0;               // shuffling, augmentation and dropout all derive from it

  // What is minimised, and how.
  std::string loss = "auto";  // see train/loss.h
  std::vector<double> class_weights;
  // {"name": "adam"|"adamw"|"sgd", settings..., "schedule": {...}}: optim/factory.h. Keras's Adam by default.
  nlohmann::json optimizer = {{"name", "adam"}};

  // The run folder (train/run_dir.h). Empty: train in memory, write nothing.
  std::filesystem::path run_dir;
  bool resume = false;       // continue the run in run_dir from its newest checkpoint
  std::string monitor = "val_loss";  // best checkpoint and early stopping ("loss" etc. without validation data)
  std::string monitor_mode = "auto"; // "min", "max", or "auto" (Dice/IoU/accuracy maximised, the rest minimised)
  int keep_last = 3;                 // step-numbered checkpoints kept besides last and best
  int64_t checkpoint_every = 0;      // also checkpoint every N steps within an epoch; 0: at epoch ends only
  int early_stopping_patience = 0;   // epochs without improvement of `monitor` before stopping; 0: off
  double early_stopping_min_delta = 0.0;
  bool restore_best_weights = false; // at an early stop, go back to the best epoch's weights

  // Display (not part of the run's identity; may change on resume).
  ProgressMode progress = ProgressMode::Auto;
  double progress_interval_seconds = 10.0;
  bool console = true;         // log to stdout besides RUN_DIR/log.txt
  bool handle_signals = true;  // SIGINT/SIGTERM finish the step, checkpoint and return (train/signals.h)

  // Extra top-level entries for RUN_DIR/config.json, e.g. the command line that started the run (written as is,
  // not part of the run's identity).
  nlohmann::json extra_config = nlohmann::json::object();

  // Hooks (not saved).
  std::function<void(const EpochEnd&)> on_epoch_end;  // after each epoch's checkpoint (e.g. an HTML report)
  std::function<void(const StepEnd&)> on_step_end;    // after each optimizer step

  nlohmann::json to_json() const;  // every setting but the hooks, defaults included
  static FitOptions from_json(const nlohmann::json& j);
};

enum class StopReason { Completed, EarlyStopping, Signal };

struct FitResult {
  std::vector<EpochRecord> history;  // every epoch of the run, those before a resume included
  int64_t epochs_completed = 0;
  int64_t global_step = 0;
  StopReason stop = StopReason::Completed;
  int signal = 0;                    // the signal that stopped the run (StopReason::Signal)
  std::string monitor;
  double best_value = 0.0;
  int64_t best_epoch = 0;            // 1-based; 0 when no epoch finished
  std::filesystem::path last_checkpoint, best_checkpoint;  // empty without a run folder
  std::string message;               // the final word, e.g. how to resume
};

struct EpochEnd {
  const EpochRecord& record;
  const std::vector<EpochRecord>& history;
  Model& model;
  const FitOptions& options;
  bool improved;  // the monitored metric improved (best checkpoint written)
};

struct StepEnd {
  int64_t epoch, step, global_step;  // 0-based epoch; step within the epoch just done (1-based); steps done in all
  double loss;
};

// A loss that is NaN or infinite stops training. Nothing is written for that step, so the last checkpoint is the
// last good state. The message names the step and the samples of the batch.
class NonFiniteLossError : public std::runtime_error {
 public:
  NonFiniteLossError(const std::string& message, int64_t global_step, std::vector<size_t> batch)
      : std::runtime_error(message), global_step_(global_step), batch_(std::move(batch)) {}
  int64_t global_step() const { return global_step_; }
  const std::vector<size_t>& batch() const { return batch_; }

 private:
  int64_t global_step_;
  std::vector<size_t> batch_;
};

FitResult fit(Model& model, const DataSource& train, const DataSource* validation, const FitOptions& options);

struct EvaluateOptions {
  int batch_size = 32;
  int64_t steps = 0;  // 0: every sample
  std::string loss = "auto";
  std::vector<double> class_weights;
  std::vector<float> mean, std;
  int workers = 1;
};

// The loss and metrics of `model` on the data in inference mode (no dropout, BN moving statistics), batch by batch
// in order; names prefixed with `prefix` ("val_" for the validation pass of fit). The model's mode is restored.
MetricLogs evaluate(Model& model, const DataSource& data, const EvaluateOptions& options,
                    const std::string& prefix = "");

// The names fit logs for a model predicting `num_classes` classes.
std::vector<std::string> metric_names(int num_classes, bool with_validation);

// RUN_DIR/config.json as fit wrote it: {"fit": FitOptions::to_json(), "model": Model::config(), ...}.
nlohmann::json read_run_config(const std::filesystem::path& run_dir);

}  // namespace tg::train
