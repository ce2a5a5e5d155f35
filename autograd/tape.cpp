#include "autograd/tape.h"

#include "autograd/profiler.h"

namespace tg {

namespace {
thread_local bool t_grad_enabled = true;

template <class Inputs, class Get>
Variable finish(const char* op, Tensor value, const Inputs& inputs, Get get, BackwardFn backward) {
  Variable out(std::move(value));
  Node& node = *out.node();
  node.op = op;
  if (profiler::enabled()) node.profiled_layer = profiler::detail::forward_op_done(op);
  if (!t_grad_enabled) return out;
  std::vector<std::shared_ptr<Node>> edges;
  for (const auto& input : inputs) {
    const Variable& v = get(input);
    if (v.defined() && v.requires_grad()) edges.push_back(v.node_ptr());
  }
  if (edges.empty()) return out;
  node.requires_grad = true;
  node.set_backward(std::move(backward), std::move(edges));
  return out;
}
}  // namespace

bool grad_enabled() { return t_grad_enabled; }

NoGrad::NoGrad() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGrad::~NoGrad() { t_grad_enabled = previous_; }

Variable record(const char* op, Tensor value, std::initializer_list<const Variable*> inputs, BackwardFn backward) {
  return finish(op, std::move(value), inputs, [](const Variable* v) -> const Variable& { return *v; },
                std::move(backward));
}

Variable record(const char* op, Tensor value, const std::vector<Variable>& inputs, BackwardFn backward) {
  return finish(op, std::move(value), inputs, [](const Variable& v) -> const Variable& { return v; },
                std::move(backward));
}

}  // namespace tg
