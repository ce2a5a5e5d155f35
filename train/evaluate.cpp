#include <algorithm>

#include "autograd/tape.h"
#include "data/loader.h"
#include "data/split.h"
#include "train/fit.h"
#include "train/loss.h"

namespace tg::train {

namespace {
// Puts the model back in the mode it was in, also when an exception leaves evaluate().
class ModeGuard {
 public:
  explicit ModeGuard(Model& model) : model_(model), training_(model.training()) {}
  ~ModeGuard() { training_ ? model_.train() : model_.eval(); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  Model& model_;
  bool training_;
};
}  // namespace

std::vector<std::string> metric_names(int num_classes, bool with_validation) {
  std::vector<std::string> base = {"loss", "pixel_accuracy", "mean_iou", "mean_dice"};
  for (int k = 0; k < num_classes; ++k) {
    base.push_back("iou_" + std::to_string(k));
    base.push_back("dice_" + std::to_string(k));
  }
  std::vector<std::string> names = base;
  if (with_validation)
    for (const std::string& n : base) names.push_back("val_" + n);
  return names;
}

MetricLogs evaluate(Model& model, const DataSource& source, const EvaluateOptions& options, const std::string& prefix) {
  if (!source.dataset) throw std::invalid_argument("evaluate: no dataset");
  const data::DatasetSpec& spec = source.dataset->spec();
  const TrainingLoss loss(options.loss, model, spec.num_classes, spec.ignore_index, options.class_weights);
  ConfusionMatrix confusion(loss.metric_classes(), spec.ignore_index);

  data::LoaderOptions lo;
  lo.batch_size = options.batch_size;
  lo.shuffle = false;
  lo.workers = options.workers;
  lo.mean = options.mean;
  lo.std = options.std;
  data::DataLoader loader(source.dataset,
                          source.indices.empty() ? data::all_indices(source.dataset->size()) : source.indices, lo);
  const int64_t steps =
      options.steps > 0 ? std::min(options.steps, loader.steps_per_epoch()) : loader.steps_per_epoch();

  ModeGuard mode(model);
  model.eval();
  NoGrad no_grad;
  double loss_sum = 0.0;
  int64_t samples = 0;
  for (int64_t s = 0; s < steps; ++s) {
    const data::Batch batch = loader.next();
    const Variable outputs = loss.outputs(model, Variable(batch.images));
    loss_sum += loss(outputs, batch.labels).item() * static_cast<double>(batch.size());
    samples += batch.size();
    confusion.add(outputs.value(), batch.labels, loss.binary_threshold());
  }
  MetricLogs logs = confusion.metrics(prefix);
  logs[prefix + "loss"] = samples ? loss_sum / static_cast<double>(samples) : 0.0;
  return logs;
}

}  // namespace tg::train
