// Variable: a value, its gradient and whether it wants one. Ops record themselves on the thread's tape
// (autograd/tape.h); backward() walks that tape in reverse and then clears it.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "autograd/tensor.h"

namespace tg {

struct Node {
  Tensor value;
  Tensor grad;                // undefined until a gradient arrives
  bool requires_grad = false;
  bool recorded = false;      // produced by an op that is (or was) on the tape
  bool consumed = false;      // its tape was walked by backward() and cleared
  std::string op;             // name of the op that produced it ("" for leaves)

  // Adds g into grad (adopting g's storage when grad is still empty, so g must not be reused).
  void accumulate_grad(Tensor g);
};

class Variable {
 public:
  Variable() = default;
  explicit Variable(Tensor value, bool requires_grad = false);

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
  void backward();
  void backward(const Tensor& seed);

  Node* node() const { return node_.get(); }
  const std::shared_ptr<Node>& node_ptr() const { return node_; }

 private:
  std::shared_ptr<Node> node_;
};

}  // namespace tg
