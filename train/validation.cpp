#include "train/validation.h"

#include <cmath>
#include <stdexcept>

#include "train/evaluate.h"

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

MetricLogs validate(Model& model, const DataSource& validation, const FitOptions& options, ConfusionMatrix* confusion) {
  EvaluateOptions eo;
  static_cast<data::LoaderOptions&>(eo) = options;
  if (options.validation_batch_size > 0) eo.batch_size = options.validation_batch_size;
  eo.steps = options.validation_steps;
  eo.loss = options.loss;
  // Keras's class_weight weighs the training loss only: val_loss stays the plain loss, comparable across weightings.
  return evaluate(model, validation, eo, "val_", confusion);
}

}  // namespace tg::train
