// The functional graph under construction (Keras's functional API):
//
//   auto x = tg::Input({256, 256, 1});
//   auto y = tg::Conv2D(64, 3).activation("relu").padding("same")(x);   // a SymbolicTensor: shape + producer
//
// Calling a layer (layers/layer_builder.h) connects a copy of it to its inputs: one LayerCall, whose output is a
// SymbolicTensor. The output shape is inferred right away, so a graph whose shapes do not line up fails at the call
// that breaks it, naming the layer, its inputs and their shapes. A Model (layers/model.h) runs the calls in order.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace tg {

class Layer;
struct LayerCall;
using CallPtr = std::shared_ptr<const LayerCall>;

// The output of a layer call in a graph under construction: its shape without the batch axis and its producer.
class SymbolicTensor {
 public:
  SymbolicTensor() = default;
  explicit SymbolicTensor(CallPtr call) : call_(std::move(call)) {}

  bool defined() const { return call_ != nullptr; }
  const Shape& shape() const;       // without the batch axis, e.g. {128, 128, 64}
  const Layer& layer() const;       // the layer that produced it
  const std::string& name() const;  // that layer's name
  const CallPtr& call() const { return call_; }

 private:
  CallPtr call_;
};

// One node of the graph: a layer applied to its inputs. `order` grows with every call in the process, so sorting
// a graph's calls by it gives a topological order (a call is always created after its inputs).
struct LayerCall {
  std::shared_ptr<Layer> layer;
  std::vector<SymbolicTensor> inputs;
  Shape output_shape;
  uint64_t order = 0;
};

// Puts `layer` into the graph: names it if unnamed, infers its output shape (throwing a ShapeError that names the
// layer, its inputs and their shapes) and returns its output.
SymbolicTensor connect(std::shared_ptr<Layer> layer, std::vector<SymbolicTensor> inputs);

// Every call the given tensors depend on (themselves included), in topological order (creation order).
std::vector<CallPtr> ancestors(const std::vector<SymbolicTensor>& tensors);

// Layers without inputs: the graph's Input layers.
bool is_input(const LayerCall& call);

// For calls run in order, each reading the calls listed in sources[i]: the index of the last call that reads each
// call's output (sources.size() for a graph output, 0 when nothing reads it), after which its value can be freed.
std::vector<size_t> last_uses(const std::vector<std::vector<size_t>>& sources, const std::vector<size_t>& outputs);

}  // namespace tg
