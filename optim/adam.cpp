#include "optim/adam.h"

#include <cmath>
#include <stdexcept>

#include "autograd/parallel.h"

namespace tg {

Adam::Adam(std::vector<Parameter> parameters, AdamOptions options)
    : Optimizer(std::move(parameters), options), options_(std::move(options)) {
  if (!(options_.beta_1 >= 0.0 && options_.beta_1 < 1.0) || !(options_.beta_2 >= 0.0 && options_.beta_2 < 1.0))
    throw std::invalid_argument("Adam: beta_1 and beta_2 must be in [0, 1)");
  if (options_.epsilon < 0.0) throw std::invalid_argument("Adam: epsilon must be >= 0");
  if (options_.amsgrad)
    add_slots({"m", "v", "vhat"});
  else
    add_slots({"m", "v"});
}

void Adam::update(size_t parameter, Tensor& weight, const Tensor& grad, double learning_rate) {
  const double t = static_cast<double>(iterations() + 1);
  const double alpha =
      learning_rate * std::sqrt(1.0 - std::pow(options_.beta_2, t)) / (1.0 - std::pow(options_.beta_1, t));
  Tensor& m_slot = slot(parameter, 0);
  Tensor& v_slot = slot(parameter, 1);
  Tensor* vhat_slot = options_.amsgrad ? &slot(parameter, 2) : nullptr;
  dispatch(weight.dtype(), [&]<class T>() {
    T* w = weight.data<T>();
    const T* g = grad.data<T>();
    T* m = m_slot.data<T>();
    T* v = v_slot.data<T>();
    T* vhat = vhat_slot ? vhat_slot->data<T>() : nullptr;
    const T one_minus_b1 = static_cast<T>(1.0 - options_.beta_1), one_minus_b2 = static_cast<T>(1.0 - options_.beta_2);
    const T a = static_cast<T>(alpha), eps = static_cast<T>(options_.epsilon);
    const int64_t n = weight.numel();
    if (vhat) {
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        m[i] += (g[i] - m[i]) * one_minus_b1;
        v[i] += (g[i] * g[i] - v[i]) * one_minus_b2;
        vhat[i] = std::max(vhat[i], v[i]);
        w[i] -= (m[i] * a) / (std::sqrt(vhat[i]) + eps);
      }
    } else {
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        m[i] += (g[i] - m[i]) * one_minus_b1;
        v[i] += (g[i] * g[i] - v[i]) * one_minus_b2;
        w[i] -= (m[i] * a) / (std::sqrt(v[i]) + eps);
      }
    }
  });
}

AdamW::AdamW(std::vector<Parameter> parameters, AdamWOptions options) : Adam(std::move(parameters), options) {}

}  // namespace tg
