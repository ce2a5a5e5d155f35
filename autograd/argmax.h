// Index of the largest value along one axis (NumPy's argmax), e.g. class ids from a segmentation model's
// probabilities: tg::argmax(model.predict(images)) turns [N, H, W, K] into [N, H, W].
#pragma once
#include "autograd/tensor.h"

namespace tg {

// `x` without `axis` (negative counts from the end), holding the indices as float32 (the type label maps have
// throughout tapegrad). Ties go to the lower index; a NaN wins over every number (the first NaN, as in NumPy), so
// a broken output shows instead of reading as class 0.
Tensor argmax(const Tensor& x, int axis = -1);

}  // namespace tg
