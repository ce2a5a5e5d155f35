// Segmentation metrics from a confusion matrix: pixel accuracy, per-class Dice and IoU, mean IoU, mean Dice.
// Counts are integers, so accumulating batches in any order gives the same result, and the matrix can be stored in a
// checkpoint and resumed mid-epoch exactly.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "optim/metric_logs.h"

namespace tg::train {

class ConfusionMatrix {
 public:
  // num_classes >= 2 (a single-channel sigmoid output has the 2 classes background / foreground).
  explicit ConfusionMatrix(int num_classes, int ignore_index = -1);

  // outputs [..., C]: the model's scores, C = num_classes (argmax over C), or C = 1 for a binary output, where the
  // class is 1 when the score exceeds `binary_threshold` (0 for logits, 0.5 for probabilities). labels [...]: class
  // ids; pixels holding ignore_index are skipped. Throws naming a label outside [0, num_classes).
  void add(const Tensor& outputs, const Tensor& labels, double binary_threshold = 0.0);

  int num_classes() const { return num_classes_; }
  int64_t count(int truth, int predicted) const { return counts_[truth * num_classes_ + predicted]; }
  int64_t total() const;
  void reset();
  // The counts, [truth][predicted] row-major: what data-parallel training sums over processes.
  std::span<int64_t> counts() { return counts_; }
  void merge(const ConfusionMatrix& other);  // adds other's counts (same classes)

  double pixel_accuracy() const;  // correct / counted pixels (0 when nothing was counted)
  // A class that appears neither in the truth nor in the prediction scores 1 for IoU and Dice (nothing to get wrong)
  // and is left out of the means, as Keras's MeanIoU leaves it out.
  double iou(int k) const;
  double dice(int k) const;
  double mean_iou() const;
  double mean_dice() const;

  // {"pixel_accuracy", "mean_iou", "mean_dice", "iou_<k>", "dice_<k>"}, each name prefixed with `prefix` ("val_").
  MetricLogs metrics(const std::string& prefix = "") const;

  nlohmann::json to_json() const;  // {"num_classes", "ignore_index", "counts"}
  static ConfusionMatrix from_json(const nlohmann::json& j);

 private:
  bool present(int k) const;
  int num_classes_, ignore_index_;
  std::vector<int64_t> counts_;  // [truth][predicted]
};

// The names fit logs for a model predicting `num_classes` classes: "loss", "pixel_accuracy", "mean_iou",
// "mean_dice", "iou_<k>", "dice_<k>", and with validation the same again prefixed "val_".
std::vector<std::string> metric_names(int num_classes, bool with_validation);

}  // namespace tg::train
