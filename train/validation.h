// The validation data of a fit and its pass at each epoch end.
#pragma once
#include "layers/model.h"
#include "train/data_source.h"
#include "train/fit_options.h"
#include "train/metrics.h"

namespace tg::train {

struct TrainAndValidation {
  DataSource train, validation;  // validation.dataset is null when there is none
};

// What fit trains and validates on: `validation` when given, else with options.validation_split > 0 the last
// fraction of the training samples (Keras: in their given order, before shuffling; floor((1 - split) * n) train),
// else no validation. Throws when both are given, or when the split leaves either side empty.
TrainAndValidation resolve_validation(const DataSource& train, const DataSource* validation, const FitOptions& options);

// The validation pass at an epoch end: evaluate() with the run's loss, normalisation and loader threads, batches of
// validation_batch_size (else batch_size), at most validation_steps of them; the names prefixed "val_". With a
// group of processes each evaluates a contiguous share of the batches and the sums are combined: the same metrics,
// bit for bit, as one process computes.
MetricLogs validate(Model& model, const DataSource& validation, const FitOptions& options,
                    ConfusionMatrix* confusion = nullptr, Collective* group = nullptr);

}  // namespace tg::train
