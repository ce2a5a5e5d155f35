// Stochastic gradient descent with Keras's momentum form (keras.optimizers.SGD): the velocity carries the learning
// rate inside it,
//   velocity = momentum * velocity - lr * g
//   plain:     w += velocity
//   Nesterov:  w += momentum * velocity - lr * g
// With a constant learning rate this equals PyTorch's SGD (velocity = -lr * buffer); after a rate change the two
// differ, and this follows Keras.
#pragma once
#include "optim/optimizer.h"

namespace tg {

struct SGDOptions : CommonOptions {
  SGDOptions() { learning_rate = 0.01; }  // Keras's SGD default
  double momentum = 0.0;
  bool nesterov = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SGDOptions, TG_COMMON_OPTIMIZER_FIELDS, momentum, nesterov)

class SGD final : public Optimizer {
 public:
  explicit SGD(std::vector<Parameter> parameters, SGDOptions options = {});
  std::string name() const override { return "sgd"; }
  const SGDOptions& options() const { return options_; }

 protected:
  void update(size_t parameter, Tensor& weight, const Tensor& grad, double learning_rate) override;
  nlohmann::json options_json() const override { return options_; }

 private:
  SGDOptions options_;
};

}  // namespace tg
