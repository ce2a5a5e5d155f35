// The optimizer base: a fixed, ordered list of named trainable weights, the per-weight state tensors ("slots") a
// subclass asks for, an iteration count and a learning-rate schedule. step() follows Keras's apply_gradients:
// clip the gradients (by global norm), apply decoupled weight decay, run each weight's update rule, count one
// iteration. Everything that changes during training is exposed by state() so checkpoints resume exactly.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "autograd/io/safetensors.h"
#include "autograd/parameter.h"
#include "autograd/variable.h"
#include "optim/schedule.h"

namespace tg {

struct OptimizerState {
  std::vector<NamedTensor> tensors;  // every slot of every parameter, in parameter order
  nlohmann::json scalars;            // {"optimizer", "iterations", "config", "schedule": {"config", "state"}}
};

// Settings every optimizer shares (Keras's base Optimizer arguments); each optimizer's options derive from it.
struct CommonOptions {
  double learning_rate = 1e-3;
  double weight_decay = 0.0;     // decoupled: w -= w * weight_decay * lr before the update (Keras 3)
  double global_clipnorm = 0.0;  // > 0: gradients scaled so their joint L2 norm is at most this
  // Parameters whose name contains any of these are not decayed (e.g. "bias", "batch_normalization").
  std::vector<std::string> exclude_from_weight_decay{};
  // An exponential moving average of every parameter, updated after each step (Keras 3's use_ema):
  // average = ema_momentum * average + (1 - ema_momentum) * weight, the first step taking the weight as it is.
  bool use_ema = false;
  double ema_momentum = 0.99;
  // Every this many steps the weights are overwritten by their averages; 0: never (Keras's None), the averages then
  // reach the weights through finalize_variable_values() (or, in fit, in validation and checkpoints).
  int64_t ema_overwrite_frequency = 0;
};
// The JSON keys of CommonOptions, for the serialisation of the options derived from it.
#define TG_COMMON_OPTIMIZER_FIELDS                                                                                   \
  learning_rate, weight_decay, global_clipnorm, exclude_from_weight_decay, use_ema, ema_momentum,                    \
      ema_overwrite_frequency
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CommonOptions, TG_COMMON_OPTIMIZER_FIELDS)

// Scales the tensors in place so their joint L2 norm is at most max_norm (TF's clip_by_global_norm) and returns the
// norm before clipping. The sum of squares runs in a fixed order, so the result does not depend on the thread count.
// A non-finite norm leaves the tensors untouched.
double clip_by_global_norm(std::span<Tensor> tensors, double max_norm);
double global_norm(std::span<const Tensor> tensors);

class Optimizer {
 public:
  Optimizer(std::vector<Parameter> parameters, CommonOptions options);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string name() const = 0;  // "adam", "adamw", "sgd"
  // Everything make_optimizer() needs to rebuild this optimizer: its options, "name" and "schedule".
  nlohmann::json config() const;

  // Applies the gradients the parameters hold (parameters without one are skipped) and counts one iteration.
  void step();
  void zero_grad();

  int64_t iterations() const { return iterations_; }
  double learning_rate() const { return (*schedule_)(iterations_); }  // the rate the next step will use
  void set_learning_rate(double learning_rate);                        // a constant schedule
  void set_schedule(std::unique_ptr<LearningRateSchedule> schedule);
  LearningRateSchedule& schedule() { return *schedule_; }
  const LearningRateSchedule& schedule() const { return *schedule_; }
  // Global gradient norm seen by the last step (before clipping) when global_clipnorm is set; NaN before the first
  // step and without clipping (it is not computed then).
  double last_gradient_norm() const { return last_gradient_norm_; }

  const std::vector<Parameter>& parameters() const { return parameters_; }
  const CommonOptions& common_options() const { return options_; }

  // With use_ema: copies the averages into the weights (Keras calls it at the end of fit). Without: does nothing.
  void finalize_variable_values();
  // With use_ema: exchanges the contents of the weights and their averages (no allocation), so the model can be
  // validated or saved with the averages and then go back to the weights it trains. The optimizer remembers which
  // side holds what: state() names each tensor by what it holds. Without use_ema: does nothing.
  void swap_averages();
  bool averages_swapped() const { return averages_swapped_; }

  // Slots "optimizer/<parameter>/<slot>"; with use_ema also "optimizer/<parameter>/average", and, while the averages
  // are swapped into the weights, "optimizer/<parameter>/training_weight": the weights being trained, which the
  // parameters do not hold then.
  OptimizerState state() const;
  // Restores a state() of an optimizer of the same kind over parameters with the same names and shapes; throws
  // naming the first missing or mis-shaped slot tensor. A state with training weights puts them into the parameters
  // (whatever they held: typically the averages, read from the same checkpoint). A state with averages and an
  // optimizer without use_ema, or the reverse, is refused: the weights would silently be the wrong ones.
  void load_state(const OptimizerState& state);

 protected:
  // Called by subclass constructors: one zero tensor per parameter per slot, shaped and typed like the parameter.
  void add_slots(std::vector<std::string> slot_names);
  Tensor& slot(size_t parameter, size_t slot) { return slots_[parameter][slot]; }
  // One parameter's update with its (clipped) gradient; iterations() still counts the updates before this one.
  virtual void update(size_t parameter, Tensor& weight, const Tensor& grad, double learning_rate) = 0;
  virtual nlohmann::json options_json() const = 0;  // the subclass's options, the common ones included

 private:
  bool decays(const Parameter& p) const;
  void update_averages();
  void overwrite_weights_with_averages();
  // The state tensor of parameter i named `slot` ("m", "average", ...), or null; throws when mis-shaped.
  const Tensor* find_state_tensor(const OptimizerState& state, size_t i, const std::string& slot) const;
  std::vector<Parameter> parameters_;
  CommonOptions options_;
  std::vector<std::string> slot_names_;
  std::vector<std::vector<Tensor>> slots_;  // [parameter][slot]
  std::vector<Tensor> averages_;  // [parameter] with use_ema; the training weights instead while swapped
  bool averages_swapped_ = false;
  int64_t iterations_ = 0;
  std::unique_ptr<LearningRateSchedule> schedule_;
  double last_gradient_norm_;
};

}  // namespace tg
