// RUN_DIR/report.html: one self-contained page (no network, no scripts) with the metric curves as inline SVG,
// a grid of validation samples (image, ground truth, prediction) as PNG data URIs, the model summary, the
// configuration and the throughput. fit rewrites it after every epoch of a run with a run folder.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/tensor.h"
#include "layers/model.h"
#include "train/data_source.h"
#include "train/fit_hooks.h"
#include "train/metrics.h"

namespace tg::train {

struct ReportSample {
  std::string name;
  Tensor image;       // [H, W, C] in [0, 1]
  Tensor truth;       // [H, W] class ids
  Tensor prediction;  // [H, W] class ids (undefined for augmented training samples)
};

struct ReportData {
  std::string title;
  std::vector<std::map<std::string, double>> history;  // one row per epoch: "epoch", "loss", "val_mean_iou", ...
  std::vector<ReportSample> samples;
  std::string model_summary;
  nlohmann::json config;
  std::map<std::string, std::string> throughput;  // e.g. "images/s" -> "12.3"
  std::string status;                             // e.g. "epoch 3 of 10", "finished", "interrupted"
  // The epoch the per-class table shows (the monitored metric's best; 0 = the last) and how it was chosen.
  int64_t best_epoch = 0;
  std::string best_by;  // e.g. "best val_loss"
  std::vector<std::string> class_names;  // names of classes 0, 1, ... (may be fewer than the classes, or none)
  std::optional<ConfusionMatrix> confusion;  // shown as a heat map, rows normalised
  std::string confusion_of;                  // e.g. "validation, epoch 7"
  std::vector<ReportSample> augmented;       // training samples as the augmentation draws them
};

std::string render_report_html(const ReportData& data);
// An SVG line chart of the named series over epochs (exposed for tests).
std::string svg_line_chart(const std::string& title, const std::vector<std::map<std::string, double>>& history,
                           const std::vector<std::string>& series);
void write_report(const std::string& path, const ReportData& data);  // atomically

// `count` samples of `source`, spread evenly over it (the first included), with the model's predicted classes
// (argmax over the channels; > 0.5 for a single sigmoid channel), computed in inference mode; the model's mode is
// restored.
std::vector<ReportSample> predict_samples(Model& model, const DataSource& source, int count);
// `count` training samples of `source` (spread as above) through options.augment, each drawn from its own generator
// derived from options.seed; none when the run does not augment.
std::vector<ReportSample> augmented_samples(const DataSource& source, const FitOptions& options, int count);
// An SVG heat map of a confusion matrix, rows (truth) normalised to fractions; cells show percentages.
std::string svg_confusion_heat_map(const ConfusionMatrix& confusion, const std::vector<std::string>& class_names);

// The report fit writes at an epoch end: title (FitOptions::report_title, else "tapegrad: <model name>"), the history,
// `samples`, the model summary, the configuration (FitOptions and extra_config) and the epoch's throughput.
ReportData epoch_report(const EpochEnd& end, const std::string& model_summary, int64_t steps_per_epoch,
                        std::vector<ReportSample> samples);

}  // namespace tg::train
