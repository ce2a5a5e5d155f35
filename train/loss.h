// The loss the fit loop minimises, chosen from the model's output activation the way Keras's fit does: the output
// layer's softmax or sigmoid is skipped (Model::forward_logits) and the loss runs on the logits through the fused,
// numerically stable from_logits path.
//   "auto"                              softmax -> sparse_categorical_crossentropy, sigmoid -> binary_crossentropy
//   "sparse_categorical_crossentropy"   class-id labels, C >= 2 outputs
//   "categorical_crossentropy"          the same through one-hot targets (void pixels get all-zero rows)
//   "binary_crossentropy"               one sigmoid channel (labels 0/1), or one-hot targets per channel
//   "dice"                              soft Dice over the classes
//   "crossentropy+dice"                 the auto crossentropy plus soft Dice (a common segmentation pairing)
//   "mse"                               squared error of the probabilities against one-hot targets
#pragma once
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "layers/model.h"

namespace tg::train {

class TrainingLoss {
 public:
  // Throws naming the loss, the output activation or the channel count that do not fit together.
  TrainingLoss(const std::string& name, const Model& model, int num_classes, int ignore_index,
               std::vector<double> class_weights = {});

  // The model's outputs the loss takes: logits when the output activation was skipped, else the outputs.
  Variable outputs(Model& model, const Variable& images) const;
  // The mean loss of a batch; labels [B, H, W] class ids (ignore_index marks void pixels). pixel_weights [B, H, W]
  // (a border weight map, data/weight_map.h, which already holds the class weights) replaces the class weights in
  // the crossentropy; undefined: the class weights.
  Variable operator()(const Variable& outputs, const Tensor& labels, const Tensor& pixel_weights = {}) const;
  // Whether the loss has a crossentropy that per-pixel weights apply to (not dice alone, not mse).
  bool takes_pixel_weights() const { return name_ != "dice" && name_ != "mse"; }

  const std::string& name() const { return name_; }  // resolved ("auto" replaced)
  bool from_logits() const { return from_logits_; }
  // For a single-channel output: the score above which a pixel counts as class 1 (0 for logits, 0.5 otherwise).
  double binary_threshold() const { return from_logits_ ? 0.0 : 0.5; }
  int metric_classes() const { return channels_ == 1 ? 2 : static_cast<int>(channels_); }
  // outputs() as probabilities (the skipped softmax or sigmoid applied), and probabilities back as what the loss takes
  // (log-probabilities are logits of the same softmax): test-time views are averaged as probabilities, the way
  // predict --tta averages them, then scored by the same loss.
  Tensor probabilities(const Tensor& outputs) const;
  Tensor outputs_from_probabilities(const Tensor& probabilities) const;

 private:
  Tensor targets_for(const Tensor& labels) const;
  std::string name_;
  std::string activation_;  // the model's output activation
  int64_t channels_;
  int ignore_index_;
  bool from_logits_;
  std::vector<double> class_weights_;
};

}  // namespace tg::train
