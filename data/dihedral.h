// The eight symmetries of the square (flips, transposes and their products) on images and batches, and their
// inverses: test-time augmentation maps each view's prediction back through the inverse before averaging.
#pragma once
#include <functional>

#include "autograd/tensor.h"

namespace tg::data {

// Symmetry k in 0..7 applied to an [H, W, C] image or an [N, H, W, C] batch (float32): transpose first (k & 4), then
// flip columns (k & 1) and rows (k & 2). undo = true applies the inverse of symmetry k. Symmetries 4..7 swap H and W.
Tensor dihedral(const Tensor& t, int k, bool undo);

// How many symmetries keep an H x W image's shape: 8 for a square, 4 (no transpose) otherwise.
inline int dihedral_views(int64_t height, int64_t width) { return height == width ? 8 : 4; }

// Test-time augmentation: `predict` run on every shape-keeping symmetry of `input` ([H, W, C] or [N, H, W, C]), each
// result mapped back by the inverse symmetry, and the mean of them. A fixed order and a plain sum keep the result the
// same on every run.
Tensor average_over_views(const Tensor& input, const std::function<Tensor(const Tensor&)>& predict);

}  // namespace tg::data
