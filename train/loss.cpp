#include "train/loss.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "data/batch.h"

namespace tg::train {

TrainingLoss::TrainingLoss(const std::string& name, const Model& model, int num_classes, int ignore_index,
                           std::vector<double> class_weights)
    : name_(name), ignore_index_(ignore_index), class_weights_(std::move(class_weights)) {
  const Shape out = model.output_shape();
  channels_ = out.empty() ? 1 : out.back();
  const std::string activation = model.output_activation();
  from_logits_ = activation == "softmax" || activation == "sigmoid" || activation == "linear";
  activation_ = activation;
  const std::string where = "loss '" + name + "' with a model whose output has " + std::to_string(channels_) +
                            " channel(s) and activation '" + activation + "'";
  if (channels_ == 1 && num_classes != 2)
    throw std::invalid_argument(where + ": a single output channel predicts 2 classes but the data has " +
                                std::to_string(num_classes) + "; build the model with num_classes = " +
                                std::to_string(num_classes));
  if (channels_ > 1 && channels_ != num_classes)
    throw std::invalid_argument(where + ": the data has " + std::to_string(num_classes) +
                                " classes; the output needs one channel per class");
  if (name_ == "auto") {
    if (activation == "softmax") name_ = "sparse_categorical_crossentropy";
    else if (activation == "sigmoid") name_ = "binary_crossentropy";
    else
      throw std::invalid_argument(where + ": 'auto' picks a loss from a softmax or sigmoid output; name the loss "
                                  "(sparse_categorical_crossentropy, binary_crossentropy, dice, crossentropy+dice)");
  }
  if (name_ == "crossentropy+dice" && channels_ == 1) name_ = "binary_crossentropy+dice";
  if (name_ == "crossentropy+dice") name_ = "sparse_categorical_crossentropy+dice";
  if (name_ == "mse" && ignore_index >= 0)
    throw std::invalid_argument(where + ": mse has no notion of unlabelled pixels; drop the ignore index or use a "
                                "crossentropy or dice loss");
  const bool known = name_ == "mse" || name_ == "sparse_categorical_crossentropy" || name_ == "categorical_crossentropy" ||
                     name_ == "binary_crossentropy" || name_ == "dice" ||
                     name_ == "sparse_categorical_crossentropy+dice" || name_ == "binary_crossentropy+dice";
  if (!known)
    throw std::invalid_argument("unknown loss '" + name + "'; use auto, sparse_categorical_crossentropy, "
                                "categorical_crossentropy, binary_crossentropy, dice, crossentropy+dice or mse");
  if ((name_.rfind("sparse_", 0) == 0 || name_ == "categorical_crossentropy") && channels_ == 1)
    throw std::invalid_argument(where + ": categorical crossentropy needs one channel per class; use "
                                "binary_crossentropy for a single sigmoid channel");
}

Variable TrainingLoss::outputs(Model& model, const Variable& images) const {
  return from_logits_ ? model.forward_logits(images) : model.forward(images);
}

Tensor TrainingLoss::targets_for(const Tensor& labels) const {
  if (channels_ == 1) {  // class ids 0/1 are already the binary target; void pixels keep the ignore index
    Shape s = labels.shape();
    s.push_back(1);
    return labels.reshape(s);
  }
  return data::one_hot(labels, static_cast<int>(channels_), ignore_index_);
}

Variable TrainingLoss::operator()(const Variable& outputs, const Tensor& labels, const Tensor& pixel_weights) const {
  if (pixel_weights.defined() && !takes_pixel_weights())
    throw std::invalid_argument("loss '" + name_ + "' takes no per-pixel weights (border weights); use a crossentropy "
                                "or crossentropy+dice");
  LossOptions o;
  o.from_logits = from_logits_;
  o.ignore_index = ignore_index_;
  if (pixel_weights.defined()) o.pixel_weights = pixel_weights;
  else o.class_weights = class_weights_;
  const auto crossentropy = [&](const std::string& kind) {
    if (kind == "sparse_categorical_crossentropy") return sparse_categorical_crossentropy(outputs, labels, o);
    if (kind == "categorical_crossentropy") return categorical_crossentropy(outputs, targets_for(labels), o);
    return binary_crossentropy(outputs, targets_for(labels), o);
  };
  if (name_ == "mse") {
    // Keras's loss='mse' on a segmentation output: the squared error of the probabilities against one-hot targets
    // (a 0/1 map for one sigmoid channel).
    const Variable probs = !from_logits_ ? outputs
                           : activation_ == "softmax" ? softmax(outputs)
                           : activation_ == "sigmoid" ? sigmoid(outputs)
                                                      : outputs;
    return mse(probs, targets_for(labels));
  }
  if (name_ == "dice") {
    LossOptions d = o;
    d.class_weights.clear();
    d.pixel_weights = Tensor();
    return dice_loss(outputs, targets_for(labels), d);
  }
  const size_t plus = name_.find("+dice");
  if (plus == std::string::npos) return crossentropy(name_);
  LossOptions d = o;
  d.class_weights.clear();
  d.pixel_weights = Tensor();
  return crossentropy(name_.substr(0, plus)) + dice_loss(outputs, targets_for(labels), d);
}

Tensor TrainingLoss::probabilities(const Tensor& outputs) const {
  if (!from_logits_ || (activation_ != "softmax" && activation_ != "sigmoid")) return outputs;
  NoGrad no_grad;
  return (activation_ == "softmax" ? softmax(Variable(outputs)) : sigmoid(Variable(outputs))).value();
}

Tensor TrainingLoss::outputs_from_probabilities(const Tensor& probabilities) const {
  if (!from_logits_ || (activation_ != "softmax" && activation_ != "sigmoid")) return probabilities;
  // Clamped so that a probability of exactly 0 or 1 gives a large finite logit, not an infinity.
  constexpr float smallest = std::numeric_limits<float>::min(), below_one = 1.0f - 0x1p-24f;
  Tensor out(probabilities.shape());
  const float* p = probabilities.data<float>();
  float* z = out.data<float>();
  const bool softmax_output = activation_ == "softmax";
  for (int64_t i = 0; i < out.numel(); ++i) {
    const float q = std::clamp(p[i], smallest, below_one);
    z[i] = softmax_output ? std::log(q) : std::log(q) - std::log1p(-q);
  }
  return out;
}

}  // namespace tg::train
