// Recording: every op ends with record(), which wraps its forward value in a Variable and, when an input requires a
// gradient and gradients are enabled, leaves the op's backward closure and its inputs' nodes in the output's Node
// (autograd/variable.h). There is no global tape: the graph lives as long as the values that came out of it.
#pragma once
#include <cstddef>
#include <initializer_list>
#include <vector>

#include "autograd/variable.h"

namespace tg {

bool grad_enabled();

// Within its scope ops record nothing and produce values that do not require gradients (inference, metrics).
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

// How every op ends: wraps the forward value in a Variable and, when any input requires a gradient and
// gradients are enabled, records `backward` in it. Returns the output. `backward` captures what it needs: the
// input Variables whose values it reads, or only their nodes (Variable::node_ptr()) to send gradients to, so that
// values no closure reads are freed during the forward pass.
Variable record(const char* op, Tensor value, std::initializer_list<const Variable*> inputs, BackwardFn backward);
Variable record(const char* op, Tensor value, const std::vector<Variable>& inputs, BackwardFn backward);

// Nodes, in the whole process, that still hold a backward closure: values of graphs that have been neither walked
// by backward() nor dropped. For tests that a graph is freed.
size_t recorded_nodes();

}  // namespace tg
