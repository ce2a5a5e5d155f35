#include "layers/graph.h"

#include <algorithm>
#include <atomic>
#include <unordered_set>

#include "layers/layer.h"
#include "layers/shape_errors.h"

namespace tg {

namespace {
std::atomic<uint64_t> next_call_order{0};
}  // namespace

const Shape& SymbolicTensor::shape() const { return call_->output_shape; }
const Layer& SymbolicTensor::layer() const { return *call_->layer; }
const std::string& SymbolicTensor::name() const { return call_->layer->name(); }

SymbolicTensor connect(std::shared_ptr<Layer> layer, std::vector<SymbolicTensor> inputs) {
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!inputs[i].defined())
      throw std::invalid_argument(layer->class_name() + (layer->name().empty() ? "" : " '" + layer->name() + "'") +
                                  ": input " + std::to_string(i) + " is an empty SymbolicTensor");
  std::unordered_set<std::string> taken;
  for (const CallPtr& c : ancestors(inputs)) taken.insert(c->layer->name());
  layer->join_graph(taken);
  std::vector<Shape> shapes;
  for (const SymbolicTensor& t : inputs) shapes.push_back(t.shape());
  Shape out;
  try {
    out = layer->output_shape(shapes);
  } catch (const ShapeError& problem) {
    throw_shape_error(*layer, inputs, problem);
  }
  auto call = std::make_shared<LayerCall>();
  call->layer = std::move(layer);
  call->inputs = std::move(inputs);
  call->output_shape = std::move(out);
  call->order = next_call_order++;
  return SymbolicTensor(std::move(call));
}

std::vector<CallPtr> ancestors(const std::vector<SymbolicTensor>& tensors) {
  std::vector<CallPtr> found;
  std::unordered_set<const LayerCall*> seen;
  std::vector<CallPtr> stack;
  for (const SymbolicTensor& t : tensors)
    if (t.defined()) stack.push_back(t.call());
  while (!stack.empty()) {
    CallPtr c = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(c.get()).second) continue;
    for (const SymbolicTensor& in : c->inputs) stack.push_back(in.call());
    found.push_back(std::move(c));
  }
  std::sort(found.begin(), found.end(), [](const CallPtr& a, const CallPtr& b) { return a->order < b->order; });
  return found;
}

bool is_input(const LayerCall& call) { return call.inputs.empty(); }

std::vector<size_t> last_uses(const std::vector<std::vector<size_t>>& sources, const std::vector<size_t>& outputs) {
  std::vector<size_t> last(sources.size(), 0);
  for (size_t i = 0; i < sources.size(); ++i)
    for (size_t s : sources[i]) last[s] = i;
  for (size_t o : outputs) last[o] = sources.size();
  return last;
}

}  // namespace tg
