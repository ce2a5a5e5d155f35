// fit(): the training loop, Keras's model.fit for segmentation, with checkpoints that resume exactly.
//
// Every step is a pure function of (seed, global step) and the state before it (train/train_step.h): the batch
// comes from the loader's position (its order and augmentation are functions of seed, epoch and position), the
// dropout masks from the seed and the global step, and every kernel reduces in a fixed order. A run interrupted (by a
// signal, a hook, or killed outright) and resumed from RUN_DIR therefore ends with the same weights, bit for bit, as
// a run that was never interrupted, given the same seed and thread count.
//
// The pieces, each in its own file: the options (fit_options.h), the step (train_step.h), the validation data and
// pass (validation.h), early stopping (early_stopping.h), the best checkpoint (best_metric.h), a run's state as a
// checkpoint (run_checkpoint.h), config.json (run_config.h), report.html (report.h); this file's loop ties them.
//
// The model's mode: fit trains in training mode (dropout on, BatchNormalization on batch statistics, updating its
// moving ones) and puts the model back in the mode it had when fit was called, also when it throws. A model is built
// in inference mode, so after fit, as after evaluate, it predicts deterministically and leaves BN's statistics alone.
//
// With the optimizer's use_ema (FitOptions::optimizer {"use_ema": true, "ema_momentum": m}; `--ema m`), training
// steps update the raw weights while validation, the best checkpoint, the report, on_epoch_end and the model fit
// returns see the averaged ones, and every checkpoint's model tensors are the averages (its optimizer state carries
// the raw weights for resuming). BatchNormalization's moving statistics are not averaged (as in Keras).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "layers/model.h"
#include "train/data_source.h"
#include "train/fit_hooks.h"
#include "train/fit_options.h"
#include "train/metric_log.h"
#include "train/train_step.h"

namespace tg::train {

enum class StopReason {
  Completed,      // every epoch ran
  EarlyStopping,  // the monitored metric stopped improving (FitOptions::early_stopping_patience)
  Signal,         // SIGINT/SIGTERM, with FitOptions::handle_signals
  Requested,      // a hook set stop_training
};

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

// Trains `model` on `train`, validating on `validation` (or on FitOptions::validation_split of `train`; nullptr and
// no split: no validation) after every epoch. With a run folder it writes config.json, log.txt, metrics.csv/.jsonl,
// checkpoints and report.html. Throws std::invalid_argument naming the setting or data that does not fit, and
// NonFiniteLossError (train_step.h) when the loss diverges.
FitResult fit(Model& model, const DataSource& train, const DataSource* validation, const FitOptions& options);

}  // namespace tg::train
