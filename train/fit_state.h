// What a checkpoint holds besides tensors: where the run is and everything that is not a pure function of
// (seed, global step). Internal to fit; the JSON form is the "tapegrad.train" metadata of a checkpoint.
#pragma once
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/metric_log.h"
#include "train/metrics.h"

namespace tg::train {

struct FitState {
  int64_t epoch = 0;        // the epoch in progress (0-based); at an epoch end, the next one
  int64_t step = 0;         // steps done in it
  int64_t global_step = 0;  // optimizer steps done in all
  // Running sums of the epoch in progress, so a mid-epoch resume logs the same epoch metrics.
  double loss_sum = 0.0;
  int64_t samples = 0;
  ConfusionMatrix confusion{2};
  // Best checkpoint and early stopping.
  std::string monitor;
  bool maximize = false;
  double best = std::numeric_limits<double>::infinity();
  int64_t best_epoch = 0;
  double stopping_best = std::numeric_limits<double>::infinity();
  int64_t stopping_best_epoch = 0;
  int stopping_wait = 0;
  std::vector<EpochRecord> history;

  void reset_epoch_sums();
  // Adds the run's other state (loader, generators, optimizer scalars, options) under the given keys.
  nlohmann::json to_json(const nlohmann::json& extra) const;
  static FitState from_json(const nlohmann::json& j);
};

}  // namespace tg::train
