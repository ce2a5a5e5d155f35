#include "train/evaluate.h"

#include <algorithm>

#include "autograd/tape.h"
#include "train/loss.h"
#include "train/mode_guard.h"

namespace tg::train {

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
    const Variable outputs = loss.outputs(model, Variable(batch.images));
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

}  // namespace tg::train
