// Gradients of activations taken from their outputs: shared by the activation ops (unary.cpp) and the convolutions
// that fuse an activation into their forward pass (conv2d.cpp), so both compute exactly the same values.
#pragma once
#include "autograd/tensor.h"

namespace tg {

// g where the ReLU's output y > 0, else g * 0 (so the values equal those of the separate relu op).
Tensor relu_gradient(const Tensor& g, const Tensor& y);

// The gradient a convolution's passes need from the gradient gy of its output y (NHWC, channels last): through its
// fused ReLU when relu (relu_gradient), else gy itself; and, when db is not null, its bias gradient: the per-channel
// sums of that gradient into *db (kernels::column_sums_of: column_sums's chunks and order, so the same bits), taken
// in the same pass over the tensors as the ReLU's mask.
Tensor conv_output_gradient(const Tensor& gy, const Tensor& y, bool relu, Tensor* db);

}  // namespace tg
