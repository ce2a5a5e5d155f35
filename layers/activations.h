// The activations a layer can end with, by Keras name.
#pragma once
#include <string>

#include "autograd/variable.h"

namespace tg {

// Returns the canonical name ("linear" for "" / "none" / "linear"), or throws naming `who` and the known ones:
// linear, relu, sigmoid, softmax (over channels), tanh.
std::string checked_activation(const std::string& name, const std::string& who);
Variable apply_activation(const std::string& name, const Variable& x);

}  // namespace tg
