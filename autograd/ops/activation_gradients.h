// Gradients of activations taken from their outputs: shared by the activation ops (unary.cpp) and the convolutions
// that fuse an activation into their forward pass (conv2d.cpp), so both compute exactly the same values.
#pragma once
#include "autograd/tensor.h"

namespace tg {

// g where the ReLU's output y > 0, else g * 0 (so the values equal those of the separate relu op).
Tensor relu_gradient(const Tensor& g, const Tensor& y);

}  // namespace tg
