#include "layers/graph.h"

#include <algorithm>
#include <unordered_set>

namespace tg {

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

}  // namespace tg
