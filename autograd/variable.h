// Variable: a value, its gradient and whether it wants one. The graph is owned by the values that came out of it,
// as in PyTorch: an op run while gradients are enabled leaves in its output's Node the closure that pushes the
// output's gradient back to its inputs, and the inputs' Nodes. backward() walks that graph from the loss and frees
// it as it goes; dropping the loss (and every other output) without backward() drops the graph.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace tg {

// Receives the gradient of the op's output; accumulates into the inputs it captured.
using BackwardFn = std::function<void(const Tensor& grad_output)>;

struct Node;
// Called by backward() with each leaf of the graph (a value no recorded op produced: a weight, an input) as soon as
// its gradient is final, that is once every op of the graph that reads it has run its backward closure, while the
// rest of the graph still runs; in the order the leaves become final (the last layers' weights first). Leaves the
// loss does not depend on are not called. So that work on finished gradients (summing them across processes) can
// start before the backward pass ends.
using LeafReadyFn = std::function<void(Node& leaf)>;

struct Node {
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();  // frees a long chain of producers iteratively, not by recursion

  // The value is dropped as soon as no Variable refers to it: a backward closure that needs it captures the
  // Variable (or the Tensor); one that only sends a gradient holds the Node (Variable::node_ptr()).
  Tensor value;
  Tensor grad;                // undefined until a gradient arrives
  bool requires_grad = false;
  bool consumed = false;      // backward() has walked the graph this value came out of
  std::string op;             // name of the op that produced it ("" for leaves)

  // The edge back to the op's inputs: set for a value computed with gradients enabled from inputs that require
  // one, released once backward() has run it.
  BackwardFn backward;
  std::vector<std::shared_ptr<Node>> inputs;  // the inputs that require a gradient
  uint64_t sequence = 0;                      // when the op ran: backward() runs outputs before their inputs
  int profiled_layer = -1;                    // the profiler's layer the op ran in (autograd/profiler.h)
  bool recorded() const { return static_cast<bool>(backward); }
  void set_backward(BackwardFn fn, std::vector<std::shared_ptr<Node>> from);
  void release_backward();

  // Adds g into grad (adopting g's storage when grad is still empty, so g must not be reused).
  void accumulate_grad(Tensor g);

  // Variables referring to this node; at 0 the value goes (shape and dtype stay known for gradient checks).
  std::atomic<int> handles{0};
  void drop_value();
  Shape value_shape;  // of a dropped value
  DType value_dtype = DType::F32;
};

class Variable {
 public:
  Variable() = default;
  explicit Variable(Tensor value, bool requires_grad = false);
  Variable(const Variable& other) : node_(other.node_) { acquire(); }
  Variable(Variable&& other) noexcept = default;
  Variable& operator=(const Variable& other);
  Variable& operator=(Variable&& other) noexcept;
  ~Variable() { release(); }

  bool defined() const { return node_ != nullptr; }
  const Tensor& value() const { return node_->value; }
  Tensor& value() { return node_->value; }
  const Tensor& grad() const { return node_->grad; }
  bool has_grad() const { return node_->grad.defined(); }
  bool requires_grad() const { return node_->requires_grad; }
  void set_requires_grad(bool r) { node_->requires_grad = r; }
  void zero_grad() { node_->grad = Tensor(); }
  const Shape& shape() const { return node_->value.shape(); }
  int64_t dim(int axis) const { return node_->value.dim(axis); }
  int rank() const { return node_->value.rank(); }
  int64_t numel() const { return node_->value.numel(); }
  DType dtype() const { return node_->value.dtype(); }
  double item() const { return node_->value.item(); }

  // Reverse-mode sweep from this value: seeds d(this)/d(this) = 1 (scalars only) or the given gradient.
  void backward(const LeafReadyFn& on_leaf_ready = {});
  void backward(const Tensor& seed, const LeafReadyFn& on_leaf_ready = {});

  Node* node() const { return node_.get(); }
  // The node without the value: what a backward closure holds to send a gradient to an input whose value it
  // does not need.
  const std::shared_ptr<Node>& node_ptr() const { return node_; }

 private:
  void acquire() {
    if (node_) node_->handles.fetch_add(1, std::memory_order_relaxed);
  }
  void release() {
    if (node_ && node_->handles.fetch_sub(1, std::memory_order_acq_rel) == 1) node_->drop_value();
    node_.reset();
  }
  std::shared_ptr<Node> node_;
};

}  // namespace tg
