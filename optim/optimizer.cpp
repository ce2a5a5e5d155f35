#include "optim/optimizer.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include "autograd/kernels/deterministic_sums.h"
#include "autograd/parallel.h"

namespace tg {

double global_norm(std::span<const Tensor> tensors) {
  double sum_sq = 0.0;
  for (const Tensor& t : tensors)
    dispatch(t.dtype(), [&]<class T>() {
      const T* p = t.data<T>();
      sum_sq += kernels::ordered_sum(t.numel(), [p](int64_t i) { return double(p[i]) * double(p[i]); });
    });
  return std::sqrt(sum_sq);
}

double clip_by_global_norm(std::span<Tensor> tensors, double max_norm) {
  const double norm = global_norm(tensors);
  if (!std::isfinite(norm) || norm <= max_norm) return norm;
  const double scale = max_norm / norm;
  for (Tensor& t : tensors)
    dispatch(t.dtype(), [&]<class T>() {
      T* p = t.data<T>();
      const T s = static_cast<T>(scale);
      const int64_t n = t.numel();
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
      for (int64_t i = 0; i < n; ++i) p[i] *= s;
    });
  return norm;
}

Optimizer::Optimizer(std::vector<Parameter> parameters, CommonOptions options)
    : parameters_(std::move(parameters)),
      options_(std::move(options)),
      schedule_(std::make_unique<ConstantLearningRate>(options_.learning_rate)),
      last_gradient_norm_(std::numeric_limits<double>::quiet_NaN()) {
  for (size_t i = 0; i < parameters_.size(); ++i) {
    if (!parameters_[i].variable.defined())
      throw std::invalid_argument("optimizer: parameter '" + parameters_[i].name + "' is an undefined Variable");
    if (!parameters_[i].trainable)
      throw std::invalid_argument("optimizer: parameter '" + parameters_[i].name +
                                  "' is not trainable (the forward pass updates it); pass model.parameters() or "
                                  "model.trainable_weights(), not model.weights()");
    for (size_t j = 0; j < i; ++j)
      if (parameters_[j].name == parameters_[i].name)
        throw std::invalid_argument("optimizer: two parameters are named '" + parameters_[i].name +
                                    "'; checkpoints key the optimizer state by name, so names must be unique");
  }
  if (options_.weight_decay < 0.0) throw std::invalid_argument("optimizer: weight_decay must be >= 0");
  if (options_.global_clipnorm < 0.0) throw std::invalid_argument("optimizer: global_clipnorm must be >= 0");
  if (!options_.use_ema) return;
  if (!(options_.ema_momentum >= 0.0 && options_.ema_momentum <= 1.0))
    throw std::invalid_argument("optimizer: ema_momentum must be in [0, 1], got " +
                                std::to_string(options_.ema_momentum));
  if (options_.ema_overwrite_frequency < 0)
    throw std::invalid_argument("optimizer: ema_overwrite_frequency must be >= 1, or 0 for never");
  for (const Parameter& p : parameters_) averages_.emplace_back(p.variable.shape(), p.variable.dtype());
}

void Optimizer::add_slots(std::vector<std::string> slot_names) {
  slot_names_ = std::move(slot_names);
  slots_.clear();
  for (const Parameter& p : parameters_) {
    std::vector<Tensor> s;
    for (size_t k = 0; k < slot_names_.size(); ++k) s.emplace_back(p.variable.shape(), p.variable.dtype());
    slots_.push_back(std::move(s));
  }
}

bool Optimizer::decays(const Parameter& p) const {
  if (options_.weight_decay == 0.0) return false;
  for (const std::string& s : options_.exclude_from_weight_decay)
    if (p.name.find(s) != std::string::npos) return false;
  return true;
}

void Optimizer::step() {
  if (averages_swapped_)
    throw std::logic_error("optimizer: step() while the averages are swapped into the weights; swap them back first");
  std::vector<size_t> with_grad;
  std::vector<Tensor> grads;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Variable& v = parameters_[i].variable;
    if (!v.has_grad()) continue;
    if (v.grad().shape() != v.shape())
      throw std::runtime_error("optimizer: gradient of '" + parameters_[i].name + "' has shape " +
                               shape_str(v.grad().shape()) + " but the weight is " + shape_str(v.shape()));
    with_grad.push_back(i);
    grads.push_back(v.grad());
  }
  // The norm is a pass over every gradient: taken only when clipping asks for it.
  last_gradient_norm_ = std::numeric_limits<double>::quiet_NaN();
  if (options_.global_clipnorm > 0.0) {
    last_gradient_norm_ = global_norm(grads);
    if (last_gradient_norm_ > options_.global_clipnorm) {
      for (Tensor& g : grads) g = g.clone();  // the parameters keep the gradients they were given
      clip_by_global_norm(grads, options_.global_clipnorm);
    }
  }
  const double lr = learning_rate();
  for (size_t k = 0; k < with_grad.size(); ++k) {
    Parameter& p = parameters_[with_grad[k]];
    Tensor& w = p.variable.value();
    if (decays(p)) {
      dispatch(w.dtype(), [&]<class T>() {
        T* x = w.data<T>();
        const T wd = static_cast<T>(options_.weight_decay), rate = static_cast<T>(lr);
        const int64_t n = w.numel();
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
        for (int64_t i = 0; i < n; ++i) x[i] = x[i] - x[i] * wd * rate;
      });
    }
    update(with_grad[k], w, grads[k], lr);
  }
  // Keras's order: the averages follow the update, then the overwrite, both before the count moves on.
  if (options_.use_ema) {
    update_averages();
    if (options_.ema_overwrite_frequency > 0 && (iterations_ + 1) % options_.ema_overwrite_frequency == 0)
      overwrite_weights_with_averages();
  }
  ++iterations_;
}

// Every parameter, also one without a gradient this step, as Keras averages all the variables it was built with.
// The first step's momentum is 0, so the averages start at the weights rather than at their zero initial values.
void Optimizer::update_averages() {
  const double momentum = iterations_ == 0 ? 0.0 : options_.ema_momentum;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& weight = parameters_[i].variable.value();
    dispatch(weight.dtype(), [&]<class T>() {
      const T* w = weight.data<T>();
      T* a = averages_[i].data<T>();
      const T mu = static_cast<T>(momentum), rest = T(1) - mu;  // 1 - momentum in the weights' type, as Keras
      const int64_t n = weight.numel();
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
      for (int64_t j = 0; j < n; ++j) a[j] = mu * a[j] + rest * w[j];
    });
  }
}

void Optimizer::overwrite_weights_with_averages() {
  for (size_t i = 0; i < parameters_.size(); ++i) parameters_[i].variable.value().copy_from(averages_[i]);
}

void Optimizer::finalize_variable_values() {
  if (!options_.use_ema) return;
  if (averages_swapped_) swap_averages();
  overwrite_weights_with_averages();
}

void Optimizer::swap_averages() {
  if (!options_.use_ema) return;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    Tensor& weight = parameters_[i].variable.value();
    dispatch(weight.dtype(), [&]<class T>() {
      T* w = weight.data<T>();
      T* a = averages_[i].data<T>();
      const int64_t n = weight.numel();
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
      for (int64_t j = 0; j < n; ++j) std::swap(w[j], a[j]);
    });
  }
  averages_swapped_ = !averages_swapped_;
}

void Optimizer::zero_grad() {
  for (Parameter& p : parameters_) p.variable.zero_grad();
}

void Optimizer::set_learning_rate(double learning_rate) {
  schedule_ = std::make_unique<ConstantLearningRate>(learning_rate);
}

void Optimizer::set_schedule(std::unique_ptr<LearningRateSchedule> schedule) {
  if (!schedule) throw std::invalid_argument("optimizer: set_schedule needs a schedule");
  schedule_ = std::move(schedule);
}

nlohmann::json Optimizer::config() const {
  nlohmann::json c = options_json();
  c["name"] = name();
  c["schedule"] = schedule_->config();
  return c;
}

OptimizerState Optimizer::state() const {
  OptimizerState s;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const std::string prefix = "optimizer/" + parameters_[i].name + "/";
    for (size_t k = 0; k < slot_names_.size(); ++k)
      s.tensors.push_back({prefix + slot_names_[k], slots_[i][k].clone()});
    if (!options_.use_ema) continue;
    const Tensor& weight = parameters_[i].variable.value();
    s.tensors.push_back({prefix + "average", (averages_swapped_ ? weight : averages_[i]).clone()});
    if (averages_swapped_) s.tensors.push_back({prefix + "training_weight", averages_[i].clone()});
  }
  s.scalars = {{"optimizer", name()},
               {"iterations", iterations_},
               {"config", config()},
               {"schedule", {{"config", schedule_->config()}, {"state", schedule_->state()}}}};
  return s;
}

const Tensor* Optimizer::find_state_tensor(const OptimizerState& state, size_t i, const std::string& slot) const {
  const std::string key = "optimizer/" + parameters_[i].name + "/" + slot;
  const Tensor* t = nullptr;
  for (const NamedTensor& nt : state.tensors)
    if (nt.name == key) t = &nt.tensor;
  if (t && t->shape() != parameters_[i].variable.shape())
    throw std::runtime_error("optimizer state tensor '" + key + "' has shape " + shape_str(t->shape()) +
                             " but the weight is " + shape_str(parameters_[i].variable.shape()));
  return t;
}

void Optimizer::load_state(const OptimizerState& state) {
  const std::string kind = state.scalars.value("optimizer", std::string("?"));
  if (kind != name())
    throw std::runtime_error("optimizer state was written by '" + kind + "' but this optimizer is '" + name() +
                             "'; resume with the same optimizer");
  // Validate everything before changing anything, so a failed load leaves the optimizer as it was.
  std::vector<std::vector<const Tensor*>> found(parameters_.size());
  std::vector<const Tensor*> averages(parameters_.size()), training(parameters_.size());
  for (size_t i = 0; i < parameters_.size(); ++i) {
    for (size_t k = 0; k < slot_names_.size(); ++k) {
      const Tensor* t = find_state_tensor(state, i, slot_names_[k]);
      if (!t)
        throw std::runtime_error("optimizer state has no tensor 'optimizer/" + parameters_[i].name + "/" +
                                 slot_names_[k] + "'; was it saved for another model?");
      found[i].push_back(t);
    }
    averages[i] = find_state_tensor(state, i, "average");
    training[i] = find_state_tensor(state, i, "training_weight");
    const std::string key = "optimizer/" + parameters_[i].name + "/average";
    if (options_.use_ema && !averages[i])
      throw std::runtime_error("optimizer state has no tensor '" + key + "': it was saved without use_ema (--ema); "
                               "resume without it, or start a new run to average the weights");
    if (!options_.use_ema && (averages[i] || training[i]))
      throw std::runtime_error("optimizer state has the tensor '" + key + "': it was saved with use_ema (--ema) "
                               "and its model weights may be the averages; resume with use_ema as it was saved");
    if ((training[i] != nullptr) != (training[0] != nullptr))
      throw std::runtime_error("optimizer state has training weights for '" +
                               parameters_[training[i] ? 0 : i].name + "' but not for '" +
                               parameters_[training[i] ? i : 0].name + "'; the state is incomplete");
  }
  std::unique_ptr<LearningRateSchedule> schedule;
  int64_t iterations = 0;
  try {
    iterations = state.scalars.at("iterations").get<int64_t>();
    const nlohmann::json& sched = state.scalars.at("schedule");
    schedule = make_schedule(sched.at("config"), options_.learning_rate);
    schedule->load_state(sched.at("state"));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("optimizer state scalars are incomplete or malformed: ") + e.what());
  }
  for (size_t i = 0; i < parameters_.size(); ++i) {
    for (size_t k = 0; k < slot_names_.size(); ++k) slots_[i][k].copy_from(*found[i][k]);
    if (averages[i]) averages_[i].copy_from(*averages[i]);
    if (training[i]) parameters_[i].variable.value().copy_from(*training[i]);
  }
  averages_swapped_ = false;
  iterations_ = iterations;
  schedule_ = std::move(schedule);
}

}  // namespace tg
