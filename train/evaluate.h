// evaluate(): the loss and metrics of a model on a dataset, Keras's model.evaluate.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/folder_dataset.h"
#include "data/loader.h"
#include "layers/model.h"
#include "train/data_source.h"
#include "train/metrics.h"
#include "train/predict.h"

namespace tg::train {

// The loader's settings (batch_size, workers, mean, std) as the training run's; evaluation reads every sample once,
// in order and as it is, so shuffle and augment are not used.
struct EvaluateOptions : data::LoaderOptions {
  int64_t steps = 0;  // 0: every sample
  int64_t first_step = 0;  // begin at this batch (one process's share of a validation pass, train/validation.h)
  std::string loss = "auto";
  std::vector<double> class_weights;
  // Test-time augmentation: the model's probabilities averaged over the batch as it is and its flips and transposes
  // (8 views for square inputs, 4 otherwise), each mapped back, before the loss and metrics (predict --tta's average).
  bool flips = false;
};

// The loss and metrics of `model` on the data in inference mode (no dropout, BN moving statistics), batch by batch
// in order; names prefixed with `prefix` ("val_" for the validation pass of fit). The model's mode is restored.
// `confusion`, when given, receives the confusion matrix the metrics come from, and `batch_loss_sums` each batch's
// mean loss times its size, in order.
MetricLogs evaluate(Model& model, const DataSource& data, const EvaluateOptions& options,
                    const std::string& prefix = "", ConfusionMatrix* confusion = nullptr,
                    std::vector<double>* batch_loss_sums = nullptr);

// The metrics at the files' own resolution: each image predicted whole, as `tapegrad predict` does (predict_image:
// tiles or resize and back, mirroring and test-time augmentation as `options` say), and compared with its mask as the
// file holds it, not brought to the input size. A model trained on images resized from 512x512 to 256x256 is scored
// against the 512x512 labels, whose thin structures the nearest-neighbour downscaled masks alias. No loss (the
// predictions are probabilities after blending); `indices` empty means every sample.
MetricLogs evaluate_full_size(Model& model, const data::FolderDataset& data, const std::vector<size_t>& indices,
                              const PredictImageOptions& options, const std::string& prefix = "",
                              ConfusionMatrix* confusion = nullptr);

}  // namespace tg::train
