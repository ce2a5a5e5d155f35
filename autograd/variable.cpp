#include "autograd/variable.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "autograd/parallel.h"
#include "autograd/profiler.h"
#include "autograd/tape.h"

namespace tg {

namespace {
std::atomic<size_t> g_recorded_nodes{0};
}  // namespace

size_t recorded_nodes() { return g_recorded_nodes.load(std::memory_order_relaxed); }

Node::~Node() {
  if (!recorded()) return;
  // Dropping the output of a long graph (a loop of many ops) would otherwise free it by recursion, one stack
  // frame per op. The nodes this one held are taken over here and, while this is their last owner, emptied of
  // their own edges first, so each is destroyed without recursing.
  std::vector<std::shared_ptr<Node>> pending = std::move(inputs);
  release_backward();
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    if (n.use_count() == 1 && n->recorded()) {
      for (std::shared_ptr<Node>& in : n->inputs) pending.push_back(std::move(in));
      n->release_backward();
    }
  }
}

void Node::set_backward(BackwardFn fn, std::vector<std::shared_ptr<Node>> from) {
  static std::atomic<uint64_t> next_sequence{1};
  if (!recorded()) g_recorded_nodes.fetch_add(1, std::memory_order_relaxed);
  backward = std::move(fn);
  inputs = std::move(from);
  sequence = next_sequence.fetch_add(1, std::memory_order_relaxed);
}

void Node::release_backward() {
  if (!recorded()) return;
  g_recorded_nodes.fetch_sub(1, std::memory_order_relaxed);
  // Moved out first: the closure's captures may own the last reference to this very node's inputs.
  BackwardFn fn = std::move(backward);
  backward = nullptr;
  inputs.clear();
}

void Node::drop_value() {
  value_shape = value.shape();
  value_dtype = value.dtype();
  value = Tensor();
}

void Node::accumulate_grad(Tensor g) {
  const Shape& shape = value.defined() ? value.shape() : value_shape;
  const DType dtype = value.defined() ? value.dtype() : value_dtype;
  if (g.shape() != shape)
    throw std::logic_error("gradient of shape " + shape_str(g.shape()) + " for a value of shape " +
                           shape_str(shape) + (op.empty() ? "" : " (op " + op + ")"));
  if (!grad.defined()) {
    grad = g.dtype() == dtype ? std::move(g) : g.to(dtype);
    return;
  }
  dispatch(grad.dtype(), [&]<class T>() {
    T* dst = grad.data<T>();
    const T* src = g.data<T>();
    const int64_t n = grad.numel();
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
  });
}

Variable::Variable(Tensor value, bool requires_grad) : node_(std::make_shared<Node>()) {
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
  acquire();
}

Variable& Variable::operator=(const Variable& other) {
  if (node_ != other.node_) {
    Variable copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Variable& Variable::operator=(Variable&& other) noexcept {
  if (this != &other) {
    release();
    node_ = std::move(other.node_);
  }
  return *this;
}

void Variable::backward(const LeafReadyFn& on_leaf_ready) {
  if (!defined()) throw std::logic_error("backward() on an undefined Variable");
  if (numel() != 1)
    throw std::invalid_argument("backward() without a seed gradient needs a scalar, but the value has shape " +
                                shape_str(shape()) + "; pass a seed of that shape, or reduce it first (sum, mean)");
  backward(Tensor::ones(shape(), dtype()), on_leaf_ready);
}

namespace {
// Every recorded node the root's gradient reaches, latest op first. Running them in that order (the reverse of
// the order the ops ran in) visits each value after all of its consumers have added to its gradient, and sums
// the contributions to a value in the same order every time.
std::vector<std::shared_ptr<Node>> graph_in_reverse_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> order{root}, stack{root};
  std::unordered_set<const Node*> seen{root.get()};
  while (!stack.empty()) {
    const std::shared_ptr<Node> n = std::move(stack.back());
    stack.pop_back();
    for (const std::shared_ptr<Node>& in : n->inputs) {
      if (in->consumed)
        throw std::logic_error("backward() through a value (op " + in->op + ") whose graph an earlier backward() "
                               "already consumed and freed; run the forward pass again, or backward() once from "
                               "the sum of the losses");
      if (in->recorded() && seen.insert(in.get()).second) {
        order.push_back(in);
        stack.push_back(in);
      }
    }
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a->sequence > b->sequence; });
  return order;
}
}  // namespace

void Variable::backward(const Tensor& seed, const LeafReadyFn& on_leaf_ready) {
  if (!defined()) throw std::logic_error("backward() on an undefined Variable");
  if (node_->consumed)
    throw std::logic_error("backward() called twice on the same graph: the first call consumed and freed it; run "
                           "the forward pass again to get a new graph");
  if (!node_->requires_grad)
    throw std::logic_error("backward() on a value that does not require a gradient (no input requires one, or it "
                           "was computed under NoGrad)");
  if (seed.shape() != shape())
    throw std::invalid_argument("backward(): seed of shape " + shape_str(seed.shape()) + " for a value of shape " +
                                shape_str(shape()));
  node_->accumulate_grad(seed.to(dtype()).clone());
  if (!node_->recorded()) return;
  std::vector<std::shared_ptr<Node>> order = graph_in_reverse_order(node_);
  // For on_leaf_ready: per leaf, the closures still to run that read it (an input listed twice counts twice).
  std::unordered_map<const Node*, int> leaf_readers;
  if (on_leaf_ready)
    for (const std::shared_ptr<Node>& n : order)
      for (const std::shared_ptr<Node>& in : n->inputs)
        if (!in->recorded()) ++leaf_readers[in.get()];
  for (std::shared_ptr<Node>& n : order) {
    if (n->grad.defined()) {
      if (profiler::enabled()) {
        const profiler::detail::BackwardTimer timer(n->op, n->profiled_layer);
        n->backward(n->grad);
      } else {
        n->backward(n->grad);
      }
    }
    // The gradient has been pushed on and the closure has run: both go now, and with the closure the values
    // only it needed. The node itself goes unless a Variable still refers to it.
    n->grad = Tensor();
    n->consumed = true;
    if (on_leaf_ready)
      for (const std::shared_ptr<Node>& in : n->inputs)
        if (!in->recorded() && --leaf_readers[in.get()] == 0) on_leaf_ready(*in);
    n->release_backward();
    n.reset();
  }
}

}  // namespace tg
