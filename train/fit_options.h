// FitOptions: every setting of fit() (train/fit.h), and their JSON form, which RUN_DIR/config.json and each
// checkpoint hold so that a resumed run can be checked against the settings it began with.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/loader.h"
#include "data/weight_map.h"
#include "optim/schedule.h"
#include "train/collective.h"
#include "train/progress.h"

namespace tg::train {

struct EpochEnd;
struct StepEnd;

// The loader's settings are the base of FitOptions: fit hands them, as one struct, to the loader of the training
// batches (batch_size, shuffle, drop_last, workers, prefetch, augment, mean, std); `seed` also draws the dropout
// masks, so shuffling, augmentation and dropout all derive from it. Validation batches use the same normalisation
// and workers, in order and without augmentation.
struct FitOptions : data::LoaderOptions {
  // Schedule and data.
  int epochs = 1;
  int64_t steps_per_epoch = 0;     // 0: one pass over the training samples (the last batch may be smaller)
  // Keras's validation_split: this fraction of the training samples, the last ones in their given order (before any
  // shuffling), validate instead of training. Only without validation data; 0: off.
  double validation_split = 0.0;
  int validation_batch_size = 0;   // 0: batch_size
  int64_t validation_steps = 0;    // 0: the whole validation set

  // What is minimised, and how.
  std::string loss = "auto";  // see train/loss.h
  std::vector<double> class_weights;
  // The U-Net paper's border weight map (data/weight_map.h) on the training loss: each training sample's pixels
  // weigh w_c + w0 exp(-(d1 + d2)^2 / 2 sigma^2), w_c from class_weights (1 without). Cross-entropy losses only (the
  // crossentropy part of crossentropy+dice); validation loss keeps class_weights alone.
  std::optional<data::BorderWeightOptions> border_weights;
  // {"name": "adam"|"adamw"|"sgd", settings..., "schedule": {...}}: optim/factory.h. Keras's Adam by default.
  // "use_ema": true validates and checkpoints the weights' moving average (train/fit.h).
  nlohmann::json optimizer = {{"name", "adam"}};

  // The run folder (train/run_dir.h) with checkpoints, logs and report.html. Empty: train in memory, write nothing.
  std::filesystem::path run_dir;
  bool resume = false;               // continue the run in run_dir from its newest checkpoint
  // A new run in a folder that holds an earlier one (its config, logs, report or any checkpoint) is refused, so no
  // result is replaced or mixed with another run's; true deletes those files first (and nothing else there).
  bool overwrite = false;
  std::string monitor = "val_loss";  // best checkpoint and early stopping ("loss" etc. without validation data)
  MonitorMode monitor_mode = MonitorMode::Auto;  // Auto: Dice/IoU/accuracy maximised, the rest minimised
  int keep_last = 3;                 // step-numbered checkpoints kept besides last and best
  int64_t checkpoint_every = 0;      // also checkpoint every N steps within an epoch; 0: at epoch ends only
  int early_stopping_patience = 0;   // epochs without improvement of `monitor` before stopping; 0: off
  double early_stopping_min_delta = 0.0;
  bool restore_best_weights = false; // at an early stop, go back to the best epoch's weights
  std::string report_title;          // RUN_DIR/report.html's title; empty: "tapegrad: <model name>"
  std::vector<std::string> class_names;  // the report's names of classes 0, 1, ...; empty: the ids alone
  int report_samples = 6;            // validation samples (training ones without validation data) in report.html

  // Compute and display (not part of the run's identity; may change on resume).
  int threads = 0;             // OpenMP threads while fit runs (put back when it returns); 0: as they are
  ProgressMode progress = ProgressMode::Auto;
  double progress_interval_seconds = 10.0;
  bool console = true;         // log to stdout besides RUN_DIR/log.txt
  // Profile this many steps (after the first) and log the profiler's table per op type, region and layer
  // (train/fit_profile.h); with a run folder also written to RUN_DIR/profile.txt. 0: off.
  int64_t profile_steps = 0;
  // SIGINT/SIGTERM finish the step, checkpoint and return (train/signals.h). Off in the library, where the
  // application owns its signals; the command line turns it on.
  bool handle_signals = false;

  // Data parallelism. gradient_shards S > 1 splits every batch into S equal parts (sample ranges in batch order) and
  // takes the step's gradient as the size-weighted mean of the parts' gradients, each part its own forward and
  // backward pass (its own dropout masks and batch statistics), summed in float64 in a fixed binary tree over the
  // parts (train/sharded_step.h). That is what N processes compute when each takes S / N of the parts, so a run on
  // N processes (`collective`, N dividing S) ends with the weights a one-process run with the same S ends with,
  // bit for bit when S / N is a power of
  // two (fit warns otherwise). 1: the whole batch in one pass. Part of the run's identity.
  int gradient_shards = 1;
  // BatchNormalization in training normalises with the whole batch's statistics, every part of every process
  // (PyTorch's SyncBatchNorm), and its backward with the whole batch's sums; each process then runs its parts as
  // one forward and backward pass (train/sharded_step.h), and the moving statistics agree on every process. Off:
  // each part's own statistics. Nothing changes for one process with gradient_shards 1, nor for a model without
  // BatchNormalization (but the parts run as one pass). Part of the run's identity.
  bool sync_batch_norm = false;
  // The processes training together (train/collective.h; distributed/ makes one under MPI); null: this one alone.
  // Rank 0 alone writes the run folder, the console and the report; every process must see the same run folder to
  // resume. Not saved.
  std::shared_ptr<Collective> collective;
  // With several processes, whether the gradient's sum over them starts during the backward pass of each
  // process's last part, in buckets of at least gradient_bucket_bytes of float64, the last layers first
  // (train/sharded_step.h); the weights are the same bits either way. Unset: on when the processes span machines
  // (Collective::spans_machines), off when they share one, where the sum's thread slowed the step by 0-16 % in
  // measurements (README, "Overlap"). The command line's TAPEGRAD_MPI_OVERLAP=0|1 sets it. Rank 0's settings hold
  // for every process. Not saved.
  std::optional<bool> overlap_gradient_sum;
  int64_t gradient_bucket_bytes = int64_t{4} << 20;

  // Extra top-level entries for RUN_DIR/config.json and the report's configuration, e.g. the command line that
  // started the run (written as is, not part of the run's identity).
  nlohmann::json extra_config = nlohmann::json::object();

  // Hooks (not saved); either can end training by setting the stop_training flag it is handed.
  std::function<void(EpochEnd&)> on_epoch_end;  // after each epoch's checkpoint and report
  std::function<void(StepEnd&)> on_step_end;    // after each optimizer step

  nlohmann::json to_json() const;  // every setting but the hooks and extra_config, defaults included
  // Every key may be left out (then the default); an unknown key, enum name or type is an error naming it.
  static FitOptions from_json(const nlohmann::json& j);
};

// The settings that decide which numbers a run computes: a resumed run must keep them.
inline constexpr const char* kRunIdentityKeys[] = {
    "batch_size", "drop_last", "steps_per_epoch", "validation_split", "validation_batch_size", "validation_steps",
    "shuffle", "augment", "mean", "std", "seed", "loss", "class_weights", "border_weights", "optimizer", "monitor", "monitor_mode",
    "gradient_shards", "sync_batch_norm"};

}  // namespace tg::train
