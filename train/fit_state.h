// What a checkpoint holds besides tensors: where the run is and everything that is not a pure function of
// (seed, global step). Internal to fit; the JSON form is the "tapegrad.train" metadata of a checkpoint.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/best_metric.h"
#include "train/early_stopping.h"
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
  BestMetric monitor;             // the best checkpoint
  EarlyStoppingState stopping;
  std::vector<EpochRecord> history;

  // Adds one training batch to the epoch's sums: its mean loss, its size, and the outputs against the labels.
  void add_batch(double loss, int64_t batch_size, const Tensor& outputs, const Tensor& labels, double binary_threshold);
  // The same for a batch whose confusion matrix is already counted (summed over the processes of a data-parallel
  // step).
  void add_counted_batch(double loss, int64_t batch_size, const ConfusionMatrix& batch_confusion);
  // The epoch so far: mean loss, pixel accuracy and mean IoU (the progress display); empty before the first batch.
  MetricLogs running_metrics() const;
  // The finished epoch's metrics: the confusion matrix's and the mean loss.
  MetricLogs epoch_metrics() const;
  void reset_epoch_sums();
  // Adds the run's other state (loader, generators, optimizer scalars, options) under the given keys.
  nlohmann::json to_json(const nlohmann::json& extra) const;
  static FitState from_json(const nlohmann::json& j);
};

}  // namespace tg::train
