#include "layers/layer.h"

#include <map>

#include "layers/initializers.h"

namespace tg {

namespace {
thread_local std::map<std::string, int> name_counters;

// Keras's unique_object_name: `conv2d`, `conv2d_1`, ...; inputs count from 1 (`input_1`) as in tf.keras.
std::string next_name(const std::string& base, const std::unordered_set<std::string>& taken) {
  const bool zero_based = base != "input";
  for (;;) {
    int& n = name_counters[base];
    std::string name;
    if (zero_based) {
      name = n == 0 ? base : base + "_" + std::to_string(n);
      ++n;
    } else {
      ++n;
      name = base + "_" + std::to_string(n);
    }
    if (!taken.count(name)) return name;
  }
}
}  // namespace

int64_t Layer::count_params() const {
  int64_t n = 0;
  for (const Weight& w : weights_) n += w.variable.numel();
  return n;
}

bool Layer::ensure_built(const std::vector<Shape>& inputs) {
  if (built_) return false;
  build(inputs);
  built_ = true;
  return true;
}

std::vector<WeightSpec> Layer::weight_specs(const std::vector<Shape>& inputs) {
  std::vector<WeightSpec> specs;
  if (built_) {
    for (const Weight& w : weights_) specs.push_back({w.name, w.variable.shape(), w.trainable});
    return specs;
  }
  planning_ = &specs;
  try {
    build(inputs);
  } catch (...) {
    planning_ = nullptr;
    throw;
  }
  planning_ = nullptr;
  return specs;
}

void Layer::initialize(uint64_t seed, uint64_t index) {
  for (size_t i = 0; i < weights_.size(); ++i) {
    const uint64_t stream = Rng::derive(seed, kInitStream + i, index).state().seed;
    initialize_tensor(weights_[i].variable.value(), initializers_[i], stream);
  }
}

Variable Layer::add_weight(const std::string& short_name, Shape shape, bool trainable, const std::string& initializer) {
  if (planning_) {
    checked_initializer(initializer, name_);
    planning_->push_back({name_ + "/" + short_name, std::move(shape), trainable});
    return Variable();
  }
  Variable v(Tensor(std::move(shape), DType::F32), trainable);
  weights_.push_back({name_ + "/" + short_name, v, trainable});
  initializers_.push_back(checked_initializer(initializer, name_));
  return v;
}

void Layer::set_name(std::string name) {
  if (connected_)
    throw std::logic_error("layer '" + name_ + "' is already part of a graph; it cannot be renamed to '" + name + "'");
  if (name.empty() || name.find('/') != std::string::npos)
    throw std::invalid_argument(class_name() + ": layer name '" + name +
                                "' must be non-empty and free of '/' (weights are named <layer>/<weight>)");
  name_ = std::move(name);
}

void Layer::join_graph(const std::unordered_set<std::string>& taken) {
  if (name_.empty()) {
    name_ = next_name(base_name(), taken);
  } else if (taken.count(name_)) {
    throw std::invalid_argument(class_name() + ": the name '" + name_ +
                                "' is already used by a layer this one depends on; layer names must be unique");
  }
  connected_ = true;
}

void reset_layer_names() { name_counters.clear(); }

NameScope::NameScope() : saved_(name_counters.begin(), name_counters.end()) { name_counters.clear(); }
NameScope::~NameScope() { name_counters = std::map<std::string, int>(saved_.begin(), saved_.end()); }

std::string keras_shape(const Shape& shape) {
  std::string s = "(None";
  for (int64_t d : shape) s += ", " + std::to_string(d);
  return s + ")";
}

}  // namespace tg
