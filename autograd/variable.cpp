#include "autograd/variable.h"

#include "autograd/parallel.h"
#include "autograd/tape.h"

namespace tg {

void Node::accumulate_grad(Tensor g) {
  if (g.shape() != value.shape())
    throw std::logic_error("gradient of shape " + shape_str(g.shape()) + " for a value of shape " +
                           shape_str(value.shape()) + (op.empty() ? "" : " (op " + op + ")"));
  if (!grad.defined()) {
    grad = g.dtype() == value.dtype() ? std::move(g) : g.to(value.dtype());
    return;
  }
  dispatch(grad.dtype(), [&]<class T>() {
    T* dst = grad.data<T>();
    const T* src = g.data<T>();
    const int64_t n = grad.numel();
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
  });
}

Variable::Variable(Tensor value, bool requires_grad) : node_(std::make_shared<Node>()) {
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

void Variable::backward() {
  if (!defined()) throw std::logic_error("backward() on an undefined Variable");
  if (numel() != 1)
    throw std::invalid_argument("backward() without a seed gradient needs a scalar, but the value has shape " +
                                shape_str(shape()) + "; pass a seed of that shape, or reduce it first (sum, mean)");
  backward(Tensor::ones(shape(), dtype()));
}

void Variable::backward(const Tensor& seed) {
  if (!defined()) throw std::logic_error("backward() on an undefined Variable");
  if (node_->consumed)
    throw std::logic_error("backward() called twice on the same graph: the first call consumed and cleared the "
                           "tape; run the forward pass again to get a new graph");
  if (!node_->requires_grad)
    throw std::logic_error("backward() on a value that does not require a gradient (no input requires one, or it "
                           "was computed under NoGrad)");
  if (seed.shape() != shape())
    throw std::invalid_argument("backward(): seed of shape " + shape_str(seed.shape()) + " for a value of shape " +
                                shape_str(shape()));
  node_->accumulate_grad(seed.to(dtype()).clone());
  if (node_->recorded) Tape::current().run_backward();
}

}  // namespace tg
