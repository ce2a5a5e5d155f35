#include "layers/activation_functions.h"

#include <stdexcept>

#include "autograd/ops.h"

namespace tg {

ActivationFunction parse_activation(const std::string& name, const std::string& who) {
  if (name.empty() || name == "none" || name == "linear") return ActivationFunction::Linear;
  if (name == "relu") return ActivationFunction::Relu;
  if (name == "sigmoid") return ActivationFunction::Sigmoid;
  if (name == "softmax") return ActivationFunction::Softmax;
  if (name == "tanh") return ActivationFunction::Tanh;
  throw std::invalid_argument(who + ": unknown activation '" + name +
                              "'; known: linear, relu, sigmoid, softmax, tanh");
}

std::string activation_name(ActivationFunction f) {
  switch (f) {
    case ActivationFunction::Linear: return "linear";
    case ActivationFunction::Relu: return "relu";
    case ActivationFunction::Sigmoid: return "sigmoid";
    case ActivationFunction::Softmax: return "softmax";
    case ActivationFunction::Tanh: return "tanh";
  }
  throw std::logic_error("activation_name: unknown ActivationFunction");
}

Variable apply_activation(ActivationFunction f, const Variable& x) {
  switch (f) {
    case ActivationFunction::Linear: return x;
    case ActivationFunction::Relu: return relu(x);
    case ActivationFunction::Sigmoid: return sigmoid(x);
    case ActivationFunction::Softmax: return softmax(x);
    case ActivationFunction::Tanh: return tanh(x);
  }
  throw std::logic_error("apply_activation: unknown ActivationFunction");
}

}  // namespace tg
