#include "optim/sgd.h"

#include <stdexcept>

#include "autograd/parallel.h"

namespace tg {

SGD::SGD(std::vector<Parameter> parameters, SGDOptions options)
    : Optimizer(std::move(parameters), options),
      options_(std::move(options)) {
  if (!(options_.momentum >= 0.0 && options_.momentum <= 1.0))
    throw std::invalid_argument("SGD: momentum must be in [0, 1], got " + std::to_string(options_.momentum));
  if (options_.momentum > 0.0)
    add_slots({"momentum"});
  else
    add_slots({});
}

void SGD::update(size_t parameter, Tensor& weight, const Tensor& grad, double learning_rate) {
  dispatch(weight.dtype(), [&]<class T>() {
    T* w = weight.data<T>();
    const T* g = grad.data<T>();
    const T lr = static_cast<T>(learning_rate), mu = static_cast<T>(options_.momentum);
    const int64_t n = weight.numel();
    if (options_.momentum == 0.0) {
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
      for (int64_t i = 0; i < n; ++i) w[i] -= g[i] * lr;
      return;
    }
    T* velocity = slot(parameter, 0).data<T>();
    if (options_.nesterov) {
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        velocity[i] = -g[i] * lr + velocity[i] * mu;
        w[i] += -g[i] * lr + velocity[i] * mu;
      }
    } else {
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        velocity[i] = -g[i] * lr + velocity[i] * mu;
        w[i] += velocity[i];
      }
    }
  });
}

}  // namespace tg
