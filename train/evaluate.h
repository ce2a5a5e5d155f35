// evaluate(): the loss and metrics of a model on a dataset, Keras's model.evaluate.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/loader.h"
#include "layers/model.h"
#include "train/data_source.h"
#include "train/metrics.h"

namespace tg::train {

// The loader's settings (batch_size, workers, mean, std) as the training run's; evaluation reads every sample once,
// in order and as it is, so shuffle and augment are not used.
struct EvaluateOptions : data::LoaderOptions {
  int64_t steps = 0;  // 0: every sample
  int64_t first_step = 0;  // begin at this batch (one process's share of a validation pass, train/validation.h)
  std::string loss = "auto";
  std::vector<double> class_weights;
};

// The loss and metrics of `model` on the data in inference mode (no dropout, BN moving statistics), batch by batch
// in order; names prefixed with `prefix` ("val_" for the validation pass of fit). The model's mode is restored.
// `confusion`, when given, receives the confusion matrix the metrics come from, and `batch_loss_sums` each batch's
// mean loss times its size, in order.
MetricLogs evaluate(Model& model, const DataSource& data, const EvaluateOptions& options,
                    const std::string& prefix = "", ConfusionMatrix* confusion = nullptr,
                    std::vector<double>* batch_loss_sums = nullptr);

}  // namespace tg::train
