// What fit hands its hooks (FitOptions::on_epoch_end, on_step_end). A hook ends training by setting stop_training,
// as a Keras callback sets model.stop_training: fit stops after that step or epoch, writes a checkpoint (with a run
// folder) and returns StopReason::Requested.
#pragma once
#include <cstdint>
#include <vector>

#include "layers/model.h"
#include "train/fit_options.h"
#include "train/metric_log.h"

namespace tg::train {

struct EpochEnd {
  const EpochRecord& record;
  const std::vector<EpochRecord>& history;
  Model& model;
  const FitOptions& options;
  bool improved;  // the monitored metric improved (best checkpoint written)
  bool stop_training = false;
};

struct StepEnd {
  int64_t epoch, step, global_step;  // 0-based epoch; step within the epoch just done (1-based); steps done in all
  double loss;
  bool stop_training = false;
};

}  // namespace tg::train
