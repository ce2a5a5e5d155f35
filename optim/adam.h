// Adam and AdamW with Keras's update rule (keras.optimizers.Adam / AdamW):
//   m += (g - m) (1 - beta_1);  v += (g^2 - v) (1 - beta_2)
//   alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t);  w -= alpha m / (sqrt(v) + epsilon)
// Epsilon is added to sqrt(v) before the bias correction is folded into alpha ("epsilon hat"), unlike PyTorch's
// m_hat / (sqrt(v_hat) + eps); with epsilon = 0 the two agree. AdamW is Adam with decoupled weight decay
// (w -= w * weight_decay * lr before the update), Keras's default weight_decay 0.004.
#pragma once
#include "optim/optimizer.h"

namespace tg {

struct AdamOptions : CommonOptions {
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;  // divide by the running maximum of v instead of v
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AdamOptions, TG_COMMON_OPTIMIZER_FIELDS, beta_1, beta_2, epsilon,
                                                amsgrad)

class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Parameter> parameters, AdamOptions options = {});
  std::string name() const override { return "adam"; }
  const AdamOptions& options() const { return options_; }

 protected:
  void update(size_t parameter, Tensor& weight, const Tensor& grad, double learning_rate) override;
  nlohmann::json options_json() const override { return options_; }

 private:
  AdamOptions options_;
};

struct AdamWOptions : AdamOptions {
  AdamWOptions() { weight_decay = 0.004; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AdamWOptions, TG_COMMON_OPTIMIZER_FIELDS, beta_1, beta_2, epsilon,
                                                amsgrad)

class AdamW final : public Adam {
 public:
  explicit AdamW(std::vector<Parameter> parameters, AdamWOptions options = {});
  std::string name() const override { return "adamw"; }
};

}  // namespace tg
