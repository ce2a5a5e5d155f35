#include "train/evaluate.h"

#include <algorithm>

#include "autograd/tape.h"
#include "data/dihedral.h"
#include "train/loss.h"
#include "train/mode_guard.h"

namespace tg::train {

namespace {

// The probabilities averaged over the views of the batch, each mapped back, as the loss takes them.
Variable outputs_over_views(const TrainingLoss& loss, Model& model, const Tensor& images) {
  return Variable(loss.outputs_from_probabilities(data::average_over_views(
      images, [&](const Tensor& view) { return loss.probabilities(loss.outputs(model, Variable(view)).value()); })));
}

}  // namespace

MetricLogs evaluate(Model& model, const DataSource& source, const EvaluateOptions& options, const std::string& prefix,
                    ConfusionMatrix* confusion_out, std::vector<double>* batch_loss_sums) {
  if (!source.dataset) throw std::invalid_argument("evaluate: no dataset");
  const data::DatasetSpec& spec = source.dataset->spec();
  const TrainingLoss loss(options.loss, model, spec.num_classes, spec.ignore_index, options.class_weights);
  ConfusionMatrix confusion(loss.metric_classes(), spec.ignore_index);

  data::LoaderOptions in_order = options;
  in_order.shuffle = false;
  in_order.drop_last = false;
  in_order.augment.reset();
  data::DataLoader loader(source.dataset, source.sample_indices(), in_order, {0, options.first_step});
  const int64_t left = loader.steps_per_epoch() - options.first_step;
  const int64_t steps = options.steps > 0 ? std::min(options.steps, left) : left;

  ModeGuard mode(model);
  model.eval();
  NoGrad no_grad;
  double loss_sum = 0.0;
  int64_t samples = 0;
  for (int64_t s = 0; s < steps; ++s) {
    const data::Batch batch = loader.next();
    const Variable outputs = options.flips ? outputs_over_views(loss, model, batch.images)
                                           : loss.outputs(model, Variable(batch.images));
    const double batch_loss = loss(outputs, batch.labels).item() * static_cast<double>(batch.size());
    loss_sum += batch_loss;
    if (batch_loss_sums) batch_loss_sums->push_back(batch_loss);
    samples += batch.size();
    confusion.add(outputs.value(), batch.labels, loss.binary_threshold());
  }
  MetricLogs logs = confusion.metrics(prefix);
  logs[prefix + "loss"] = samples ? loss_sum / static_cast<double>(samples) : 0.0;
  if (confusion_out) *confusion_out = confusion;
  return logs;
}

MetricLogs evaluate_full_size(Model& model, const data::FolderDataset& data, const std::vector<size_t>& indices,
                              const PredictImageOptions& options, const std::string& prefix,
                              ConfusionMatrix* confusion_out) {
  const data::DatasetSpec& spec = data.spec();
  const int classes = static_cast<int>(std::max<int64_t>(model.output_shape().back(), 2));
  ConfusionMatrix confusion(classes, spec.ignore_index);
  std::vector<size_t> all;
  if (indices.empty())
    for (size_t i = 0; i < data.size(); ++i) all.push_back(i);
  for (size_t index : indices.empty() ? all : indices) {
    const data::Sample sample = data.get_full_size(index);
    const Tensor probs = predict_image(model, sample.image, options);
    confusion.add(probs.reshape({1, probs.dim(0), probs.dim(1), probs.dim(2)}),
                  sample.labels.reshape({1, sample.labels.dim(0), sample.labels.dim(1)}));
  }
  if (confusion_out) *confusion_out = confusion;
  return confusion.metrics(prefix);
}

}  // namespace tg::train
