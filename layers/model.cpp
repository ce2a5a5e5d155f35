#include "layers/model.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "autograd/tape.h"
#include "autograd/profiler.h"

namespace tg {

namespace {
std::string tensor_list(const std::vector<SymbolicTensor>& ts) {
  std::string s;
  for (const SymbolicTensor& t : ts) s += (s.empty() ? "'" : ", '") + t.name() + "'";
  return s;
}
}  // namespace

Model::Model(const ModelGraph& graph) : Model(graph.inputs, graph.outputs, graph.seed, graph.name) {}

Model::Model(const SymbolicTensor& input, const SymbolicTensor& output, uint64_t seed, std::string name)
    : Model(std::vector<SymbolicTensor>{input}, std::vector<SymbolicTensor>{output}, seed, std::move(name)) {}

Model::Model(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs, uint64_t seed, std::string name)
    : name_(std::move(name)), seed_(seed) {
  if (inputs.empty() || outputs.empty())
    throw std::invalid_argument("Model '" + name_ + "': needs at least one input and one output");
  for (const auto* list : {&inputs, &outputs})
    for (const SymbolicTensor& t : *list)
      if (!t.defined()) throw std::invalid_argument("Model '" + name_ + "': an input or output is an empty tensor");
  for (const SymbolicTensor& t : inputs)
    if (!is_input(*t.call()))
      throw std::invalid_argument("Model '" + name_ + "': its inputs must come from Input(), but '" + t.name() +
                                  "' is the output of a " + t.layer().class_name() + " layer");

  calls_ = ancestors(outputs);
  std::unordered_map<const LayerCall*, size_t> index;
  for (size_t i = 0; i < calls_.size(); ++i) index[calls_[i].get()] = i;

  std::unordered_set<const LayerCall*> given;
  for (const SymbolicTensor& t : inputs) {
    if (!index.count(t.call().get()))
      throw std::invalid_argument("Model '" + name_ + "': input '" + t.name() + "' does not lead to any of the outputs " +
                                  tensor_list(outputs));
    if (!given.insert(t.call().get()).second)
      throw std::invalid_argument("Model '" + name_ + "': input '" + t.name() + "' is given twice");
    inputs_.push_back(index.at(t.call().get()));
  }
  std::unordered_set<std::string> names;
  for (const CallPtr& c : calls_) {
    if (is_input(*c) && !given.count(c.get()))
      throw std::invalid_argument("Model '" + name_ + "': the outputs depend on Input '" + c->layer->name() +
                                  "', which is not among the model's inputs " + tensor_list(inputs));
    if (!names.insert(c->layer->name()).second)
      throw std::invalid_argument("Model '" + name_ + "': two layers are named '" + c->layer->name() +
                                  "'; layer names must be unique (weights are saved under them)");
  }
  for (const SymbolicTensor& t : outputs) outputs_.push_back(index.at(t.call().get()));

  sources_.resize(calls_.size());
  for (size_t i = 0; i < calls_.size(); ++i)
    for (const SymbolicTensor& t : calls_[i]->inputs) sources_[i].push_back(index.at(t.call().get()));
  last_use_ = last_uses(sources_, outputs_);
  fusion_plan_ = plan_fusion(calls_, sources_, outputs_);
  fusion_ = fusion_enabled_by_environment();

  bool first_weight = true;
  for (size_t i = 0; i < calls_.size(); ++i) {
    const LayerCall& c = *calls_[i];
    if (is_input(c)) continue;
    std::vector<Shape> shapes;
    for (const SymbolicTensor& t : c.inputs) shapes.push_back(t.shape());
    if (c.layer->ensure_built(shapes)) c.layer->initialize(seed_, i);
    for (const Weight& w : c.layer->weights()) {
      // A layer shared with a model converted earlier keeps that model's dtype; this model follows it.
      if (first_weight) dtype_ = w.variable.dtype();
      first_weight = false;
    }
  }
  if (dtype_ != DType::F32) to(dtype_);
  reset_layer_names();
}

Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

std::vector<Variable> Model::run(const std::vector<Variable>& xs, bool logits) {
  if (xs.size() != inputs_.size())
    throw std::invalid_argument("Model '" + name_ + "': expects " + std::to_string(inputs_.size()) +
                                " input(s), got " + std::to_string(xs.size()));
  std::vector<Variable> values(calls_.size());
  for (size_t k = 0; k < inputs_.size(); ++k) {
    const LayerCall& c = *calls_[inputs_[k]];
    const Variable& x = xs[k];
    Shape want = c.output_shape;
    want.insert(want.begin(), x.defined() && x.rank() > 0 ? x.dim(0) : 1);
    if (!x.defined() || x.shape() != want)
      throw std::invalid_argument("Model '" + name_ + "': input '" + c.layer->name() + "' expects shape " +
                                  keras_shape(c.output_shape) + ", got " +
                                  (x.defined() ? shape_str(x.shape()) : "an empty Variable"));
    if (x.dtype() != dtype_)
      throw std::invalid_argument("Model '" + name_ + "': input '" + c.layer->name() + "' is " +
                                  dtype_name(x.dtype()) + " but the weights are " + dtype_name(dtype_) +
                                  "; convert the input, or the model with model.to(DType::" +
                                  (x.dtype() == DType::F64 ? "F64" : "F32") + ")");
    values[inputs_[k]] = x;
  }
  CallContext context;
  context.training = training_;
  context.rng = &rng_;
  context.batch_parts = batch_parts_;
  context.part_rngs = part_rngs_;
  const bool fused = fusion_ && (!hook_ || hook_calls_ == HookCalls::as_run) && fusion_plan_.any();
  const std::vector<std::vector<size_t>>& sources = fused ? fusion_plan_.sources : sources_;
  const std::vector<size_t>& last_use = fused ? fusion_plan_.last_use : last_use_;
  for (size_t i = 0; i < calls_.size(); ++i) {
    const LayerCall& c = *calls_[i];
    if (is_input(c)) continue;
    if (fused && fusion_plan_.folded[i]) {
      // Computed inside the next layer's fused op; the scope keeps the layer's row in the profiler's table.
      const profiler::LayerScope scope(c.layer->name(), c.layer->class_name());
      continue;
    }
    std::vector<Variable> in;
    in.reserve(sources[i].size());
    for (size_t s : sources[i]) in.push_back(values[s]);
    context.skip_activation = logits && i == outputs_[0];
    const auto start = std::chrono::steady_clock::now();
    {
      const profiler::LayerScope scope(c.layer->name(), c.layer->class_name());
      values[i] = fused ? call_fused(fusion_plan_.fused[i], c, in, context) : c.layer->call(in, context);
    }
    if (hook_) hook_(*c.layer, in, values[i], std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    // Values nobody reads any more are dropped right away; the graph keeps what backward needs.
    for (size_t s : sources[i])
      if (last_use[s] == i) values[s] = Variable();
  }
  std::vector<Variable> out;
  for (size_t o : outputs_) out.push_back(values[o]);
  return out;
}

std::vector<Variable> Model::forward(const std::vector<Variable>& xs) { return run(xs, false); }

Variable Model::forward(const Variable& x) {
  single_output("forward(x)");
  return run({x}, false)[0];
}

Variable Model::forward_logits(const Variable& x) {
  single_output("forward_logits");
  return run({x}, true)[0];
}

const LayerCall& Model::single_output(const char* what) const {
  if (inputs_.size() != 1 || outputs_.size() != 1)
    throw std::invalid_argument("Model '" + name_ + "': " + what + " needs one input and one output; this model has " +
                                std::to_string(inputs_.size()) + " and " + std::to_string(outputs_.size()) +
                                ", use forward(std::vector<Variable>)");
  return *calls_[outputs_[0]];
}

Tensor Model::predict(const Tensor& inputs, int64_t batch_size) {
  single_output("predict");
  if (batch_size <= 0)
    throw std::invalid_argument("Model '" + name_ + "': predict needs batch_size > 0, got " + std::to_string(batch_size));
  const Shape& per_sample = calls_[inputs_[0]]->output_shape;
  if (!inputs.defined() || inputs.rank() != static_cast<int>(per_sample.size()) + 1 ||
      !std::equal(per_sample.begin(), per_sample.end(), inputs.shape().begin() + 1))
    throw std::invalid_argument("Model '" + name_ + "': predict expects inputs " + keras_shape(per_sample) + ", got " +
                                (inputs.defined() ? shape_str(inputs.shape()) : "an empty Tensor"));
  // Restores the mode on every way out, exceptions included.
  struct ModeGuard {
    Model& model;
    bool was_training;
    ~ModeGuard() { was_training ? model.train() : model.eval(); }
  } guard{*this, training_};
  eval();
  NoGrad no_grad;
  const int64_t n = inputs.dim(0);
  Shape out_shape = output_shape();
  out_shape.insert(out_shape.begin(), n);
  Tensor out(out_shape, dtype_);
  const int64_t per_row = shape_numel(output_shape());
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t end = std::min(n, begin + batch_size);
    const Tensor y = run({Variable(inputs.slice(begin, end))}, false)[0].value();
    std::copy_n(y.bytes(), y.nbytes(), out.bytes() + static_cast<size_t>(begin * per_row) * out.element_size());
  }
  return out;
}

std::string Model::output_activation() const { return single_output("output_activation").layer->activation(); }

std::vector<Weight> Model::weights() const {
  std::vector<Weight> all;
  for (const CallPtr& c : calls_)
    for (const Weight& w : c->layer->weights()) all.push_back(w);
  return all;
}

std::vector<Weight> Model::trainable_weights() const {
  std::vector<Weight> all = weights();
  std::erase_if(all, [](const Weight& w) { return !w.trainable; });
  return all;
}

std::vector<Weight> Model::non_trainable_weights() const {
  std::vector<Weight> all = weights();
  std::erase_if(all, [](const Weight& w) { return w.trainable; });
  return all;
}

int64_t Model::count_params() const {
  int64_t n = 0;
  for (const Weight& w : weights()) n += w.variable.numel();
  return n;
}

int64_t Model::count_trainable_params() const {
  int64_t n = 0;
  for (const Weight& w : trainable_weights()) n += w.variable.numel();
  return n;
}

const Shape& Model::input_shape() const {
  if (inputs_.size() != 1)
    throw std::invalid_argument("Model '" + name_ + "' has " + std::to_string(inputs_.size()) +
                                " inputs; use input_shapes()");
  return calls_[inputs_[0]]->output_shape;
}

Shape Model::output_shape() const {
  if (outputs_.size() != 1)
    throw std::invalid_argument("Model '" + name_ + "' has " + std::to_string(outputs_.size()) +
                                " outputs; use output_shapes()");
  return calls_[outputs_[0]]->output_shape;
}

std::vector<Shape> Model::input_shapes() const {
  std::vector<Shape> s;
  for (size_t i : inputs_) s.push_back(calls_[i]->output_shape);
  return s;
}

std::vector<Shape> Model::output_shapes() const {
  std::vector<Shape> s;
  for (size_t i : outputs_) s.push_back(calls_[i]->output_shape);
  return s;
}

void Model::initialize(uint64_t seed) {
  seed_ = seed;
  for (size_t i = 0; i < calls_.size(); ++i) calls_[i]->layer->initialize(seed, i);
}

void Model::to(DType dtype) {
  for (const CallPtr& c : calls_)
    for (Weight& w : c->layer->weights()) {
      if (w.variable.dtype() != dtype) w.variable.value() = w.variable.value().to(dtype);
      w.variable.zero_grad();
    }
  dtype_ = dtype;
}

void Model::bind_trainable_weights(const std::vector<Variable>& variables) {
  size_t k = 0;
  for (const CallPtr& c : calls_)
    for (Weight& w : c->layer->weights()) {
      if (!w.trainable) continue;
      if (k >= variables.size())
        throw std::invalid_argument("bind_trainable_weights: got " + std::to_string(variables.size()) +
                                    " Variables but model '" + name_ + "' has more trainable weights (next: " +
                                    w.name + ")");
      const Variable& v = variables[k++];
      if (v.shape() != w.variable.shape() || v.dtype() != dtype_)
        throw std::invalid_argument("bind_trainable_weights: '" + w.name + "' is " + shape_str(w.variable.shape()) +
                                    " " + dtype_name(dtype_) + ", got " + shape_str(v.shape()) + " " +
                                    dtype_name(v.dtype()));
      w.variable = v;
    }
  if (k != variables.size())
    throw std::invalid_argument("bind_trainable_weights: got " + std::to_string(variables.size()) +
                                " Variables for " + std::to_string(k) + " trainable weights");
}

std::vector<std::shared_ptr<Layer>> Model::layers() const {
  std::vector<std::shared_ptr<Layer>> out;
  for (const CallPtr& c : calls_) out.push_back(c->layer);
  return out;
}

Layer& Model::layer(std::string_view name) const {
  for (const CallPtr& c : calls_)
    if (c->layer->name() == name) return *c->layer;
  throw std::invalid_argument("Model '" + name_ + "' has no layer named '" + std::string(name) + "'");
}

}  // namespace tg
