// The activations a layer can end with, parsed once from their Keras names when the layer is built.
#pragma once
#include <string>

#include "autograd/variable.h"

namespace tg {

enum class ActivationFunction { Linear, Relu, Sigmoid, Softmax, Tanh };

// "" / "none" / "linear" are Linear; otherwise the Keras name. Throws std::invalid_argument naming `who` (the layer)
// and the accepted names: linear, relu, sigmoid, softmax (over channels), tanh.
ActivationFunction parse_activation(const std::string& name, const std::string& who);
// The Keras name, as configs store it: "linear", "relu", ...
std::string activation_name(ActivationFunction f);
Variable apply_activation(ActivationFunction f, const Variable& x);

}  // namespace tg
