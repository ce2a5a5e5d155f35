#include "layers/activations.h"

#include <stdexcept>

#include "autograd/ops.h"

namespace tg {

std::string checked_activation(const std::string& name, const std::string& who) {
  if (name.empty() || name == "none" || name == "linear") return "linear";
  if (name == "relu" || name == "sigmoid" || name == "softmax" || name == "tanh") return name;
  throw std::invalid_argument(who + ": unknown activation '" + name +
                              "'; known: linear, relu, sigmoid, softmax, tanh");
}

Variable apply_activation(const std::string& name, const Variable& x) {
  if (name == "linear") return x;
  if (name == "relu") return relu(x);
  if (name == "sigmoid") return sigmoid(x);
  if (name == "softmax") return softmax(x);
  if (name == "tanh") return tanh(x);
  throw std::invalid_argument(checked_activation(name, "apply_activation"));
}

}  // namespace tg
