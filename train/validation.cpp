#include "train/validation.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "train/evaluate.h"
#include "train/loss.h"

namespace tg::train {

TrainAndValidation resolve_validation(const DataSource& train, const DataSource* validation, const FitOptions& options) {
  const double split = options.validation_split;
  if (!(split >= 0.0 && split < 1.0))
    throw std::invalid_argument("fit: validation_split must be in [0, 1), got " + std::to_string(split));
  const bool has_validation = validation && validation->dataset;
  if (split == 0.0) return {train, has_validation ? *validation : DataSource{}};
  if (has_validation)
    throw std::invalid_argument("fit: validation data and validation_split are both given; pass one of them");
  const std::vector<size_t> all = train.sample_indices();
  const auto n_train = static_cast<size_t>(std::floor(static_cast<double>(all.size()) * (1.0 - split)));
  if (n_train == 0 || n_train == all.size())
    throw std::invalid_argument("fit: validation_split " + std::to_string(split) + " of " +
                                std::to_string(all.size()) + " training samples leaves " + std::to_string(n_train) +
                                " to train and " + std::to_string(all.size() - n_train) +
                                " to validate; both need at least one");
  return {DataSource{train.dataset, {all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n_train)}},
          DataSource{train.dataset, {all.begin() + static_cast<std::ptrdiff_t>(n_train), all.end()}}};
}

MetricLogs validate(Model& model, const DataSource& validation, const FitOptions& options, ConfusionMatrix* confusion,
                    Collective* group) {
  EvaluateOptions eo;
  static_cast<data::LoaderOptions&>(eo) = options;
  if (options.validation_batch_size > 0) eo.batch_size = options.validation_batch_size;
  eo.steps = options.validation_steps;
  eo.loss = options.loss;
  // Keras's class_weight weighs the training loss only: val_loss stays the plain loss, comparable across weightings.
  if (!group || group->size() == 1) return evaluate(model, validation, eo, "val_", confusion);

  const auto samples = static_cast<int64_t>(validation.size());
  const int64_t batches_all = (samples + eo.batch_size - 1) / eo.batch_size;
  const int64_t batches = eo.steps > 0 ? std::min(eo.steps, batches_all) : batches_all;
  const int64_t first = group->rank() * batches / group->size(), end = (group->rank() + 1) * batches / group->size();
  const data::DatasetSpec& spec = validation.dataset->spec();
  ConfusionMatrix counts(TrainingLoss(options.loss, model, spec.num_classes, spec.ignore_index, {}).metric_classes(),
                         spec.ignore_index);
  std::vector<double> mine;
  if (end > first) {
    eo.first_step = first;
    eo.steps = end - first;
    evaluate(model, validation, eo, "val_", &counts, &mine);
  }
  // Each batch's loss in its slot (zeros elsewhere: adding them changes no bit), summed in batch order as one
  // process sums them.
  std::vector<double> batch_losses(static_cast<size_t>(batches), 0.0);
  std::copy(mine.begin(), mine.end(), batch_losses.begin() + first);
  group->sum(std::span<double>(batch_losses));
  group->sum(counts.counts());
  double loss_sum = 0.0;
  for (double l : batch_losses) loss_sum += l;
  MetricLogs logs = counts.metrics("val_");
  const int64_t counted = std::min(samples, batches * eo.batch_size);
  logs["val_loss"] = counted ? loss_sum / static_cast<double>(counted) : 0.0;
  if (confusion) *confusion = counts;
  return logs;
}

}  // namespace tg::train
