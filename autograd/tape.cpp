#include "autograd/tape.h"

namespace tg {

namespace {
thread_local bool t_grad_enabled = true;
}

Tape& Tape::current() {
  thread_local Tape tape;
  return tape;
}

void Tape::push(std::shared_ptr<Node> output, BackwardFn backward) {
  output->recorded = true;
  entries_.push_back({std::move(output), std::move(backward)});
}

void Tape::clear() {
  for (Entry& e : entries_) e.output->consumed = true;
  entries_.clear();
}

void Tape::run_backward() {
  // Entries are in execution order, which is a topological order: reversing it visits every output after
  // all of its consumers have contributed to its gradient.
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    Node& out = *it->output;
    if (out.grad.defined()) it->backward(out.grad);
    // Intermediate gradients are not needed once pushed back; free them early to bound peak memory.
    out.grad = Tensor();
    it->backward = nullptr;
  }
  clear();
}

bool grad_enabled() { return t_grad_enabled; }

NoGrad::NoGrad() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGrad::~NoGrad() { t_grad_enabled = previous_; }

namespace {
Variable finish(const char* op, Tensor value, bool any_input_requires_grad, BackwardFn backward) {
  Variable out(std::move(value));
  out.node()->op = op;
  if (any_input_requires_grad && t_grad_enabled) {
    out.set_requires_grad(true);
    Tape::current().push(out.node_ptr(), std::move(backward));
  }
  return out;
}
}  // namespace

Variable record(const char* op, Tensor value, std::initializer_list<const Variable*> inputs, BackwardFn backward) {
  bool needs = false;
  for (const Variable* v : inputs) needs = needs || (v->defined() && v->requires_grad());
  return finish(op, std::move(value), needs, std::move(backward));
}

Variable record(const char* op, Tensor value, const std::vector<Variable>& inputs, BackwardFn backward) {
  bool needs = false;
  for (const Variable& v : inputs) needs = needs || (v.defined() && v.requires_grad());
  return finish(op, std::move(value), needs, std::move(backward));
}

}  // namespace tg
