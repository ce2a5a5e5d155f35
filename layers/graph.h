// Walking a graph of layer calls.
#pragma once
#include <memory>
#include <vector>

#include "layers/layer.h"

namespace tg {

using CallPtr = std::shared_ptr<const LayerCall>;

// Every call the given tensors depend on (themselves included), in topological order (creation order).
std::vector<CallPtr> ancestors(const std::vector<SymbolicTensor>& tensors);

// Layers without inputs: the graph's Input layers.
bool is_input(const LayerCall& call);

}  // namespace tg
