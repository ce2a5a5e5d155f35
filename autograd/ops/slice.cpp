// slice_batch: samples [begin, end) of a batch, so a loss can be taken per part of a batch that ran forward as one
// (train/sharded_step.cpp under --sync-bn). Backward writes the gradient into those rows of a zero gradient.
#include <cstring>

#include "autograd/ops.h"

namespace tg {

Variable slice_batch(const Variable& x, int64_t begin, int64_t end) {
  if (!x.defined() || x.rank() < 1)
    throw std::invalid_argument("slice_batch: needs an input with a batch axis, got " +
                                (x.defined() ? shape_str(x.shape()) : std::string("an undefined Variable")));
  if (begin < 0 || begin > end || end > x.dim(0))
    throw std::invalid_argument("slice_batch: samples [" + std::to_string(begin) + ", " + std::to_string(end) +
                                ") are not within the batch of " + shape_str(x.shape()));
  const Shape shape = x.shape();
  return record("slice_batch", x.value().slice(begin, end).clone(), {&x}, [x, shape, begin](const Tensor& g) {
    if (!x.requires_grad()) return;
    Tensor gx = Tensor::zeros(shape, g.dtype());
    if (g.numel() > 0) std::memcpy(gx.slice(begin, begin + g.dim(0)).bytes(), g.bytes(), g.nbytes());
    x.node()->accumulate_grad(std::move(gx));
  });
}

}  // namespace tg
