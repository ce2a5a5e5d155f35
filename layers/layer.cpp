#include "layers/layer.h"

#include <atomic>
#include <map>
#include <unordered_set>

#include "layers/graph.h"
#include "layers/initializers.h"
#include "layers/shape_errors.h"

namespace tg {

namespace {
thread_local std::map<std::string, int> name_counters;
std::atomic<uint64_t> next_call_order{0};

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

const Shape& SymbolicTensor::shape() const { return call_->output_shape; }
const Layer& SymbolicTensor::layer() const { return *call_->layer; }
const std::string& SymbolicTensor::name() const { return call_->layer->name(); }

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

void Layer::initialize(uint64_t seed, uint64_t index) {
  for (size_t i = 0; i < weights_.size(); ++i) {
    const uint64_t stream = Rng::derive(seed, kInitStream + i, index).state().seed;
    initialize_tensor(weights_[i].variable.value(), initializers_[i], stream);
  }
}

Variable Layer::add_weight(const std::string& short_name, Shape shape, bool trainable, const std::string& initializer) {
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

SymbolicTensor connect(std::shared_ptr<Layer> layer, std::vector<SymbolicTensor> inputs) {
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!inputs[i].defined())
      throw std::invalid_argument(layer->class_name() + (layer->name().empty() ? "" : " '" + layer->name() + "'") +
                                  ": input " + std::to_string(i) + " is an empty SymbolicTensor");
  std::unordered_set<std::string> taken;
  for (const CallPtr& c : ancestors(inputs)) taken.insert(c->layer->name());
  if (layer->name().empty()) {
    layer->name_ = next_name(layer->base_name(), taken);
  } else if (taken.count(layer->name())) {
    throw std::invalid_argument(layer->class_name() + ": the name '" + layer->name() +
                                "' is already used by a layer this one depends on; layer names must be unique");
  }
  std::vector<Shape> shapes;
  for (const SymbolicTensor& t : inputs) shapes.push_back(t.shape());
  Shape out;
  try {
    out = layer->output_shape(shapes);
  } catch (const ShapeError& problem) {
    throw_shape_error(*layer, inputs, problem);
  }
  layer->connected_ = true;
  auto call = std::make_shared<LayerCall>();
  call->layer = std::move(layer);
  call->inputs = std::move(inputs);
  call->output_shape = std::move(out);
  call->order = next_call_order++;
  return SymbolicTensor(std::move(call));
}

void reset_layer_names() { name_counters.clear(); }

NameScope::NameScope() : saved_(name_counters.begin(), name_counters.end()) { name_counters.clear(); }
NameScope::~NameScope() { name_counters = std::map<std::string, int>(saved_.begin(), saved_.end()); }

std::string keras_shape(const Shape& shape) {
  std::string s = "(None";
  for (int64_t d : shape) s += ", " + std::to_string(d);
  return s + ")";
}

std::string checked_padding(const std::string& padding, const std::string& who) {
  std::string p;
  for (char c : padding) p += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (p != "valid" && p != "same")
    throw std::invalid_argument(who + ": padding '" + padding + "' is not one of 'valid', 'same'");
  return p;
}

}  // namespace tg
