// BatchNormalization over the channel axis, with Keras's defaults (momentum 0.99, epsilon 1e-3, center and scale).
// Weights: gamma, beta (trainable), moving_mean, moving_variance (not trainable). The moving variance is fed the
// Bessel-corrected batch variance as tf.keras does; unbiased_moving_variance(false) gives Keras 3's behaviour.
#pragma once
#include "autograd/ops.h"
#include "layers/layer_builder.h"

namespace tg {

class BatchNormalization final : public LayerBuilder<BatchNormalization> {
 public:
  BatchNormalization() = default;

  BatchNormalization& axis(int a);  // -1 (or the last axis counted with the batch axis): tapegrad's only choice
  BatchNormalization& momentum(double m);
  BatchNormalization& epsilon(double e);
  BatchNormalization& center(bool c);
  BatchNormalization& scale(bool s);
  BatchNormalization& beta_initializer(const std::string& i);
  BatchNormalization& gamma_initializer(const std::string& i);
  BatchNormalization& moving_mean_initializer(const std::string& i);
  BatchNormalization& moving_variance_initializer(const std::string& i);
  BatchNormalization& unbiased_moving_variance(bool u);

  std::string class_name() const override { return "BatchNormalization"; }
  std::string base_name() const override { return "batch_normalization"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void build(const std::vector<Shape>& inputs) override;
  Variable call(const std::vector<Variable>& inputs, CallContext& context) const override;
  nlohmann::json config() const override;
  bool passes_through() const override { return true; }
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 private:
  int axis_ = -1;
  BatchNormOptions options_;
  bool center_ = true, scale_ = true;
  std::string beta_initializer_ = "zeros", gamma_initializer_ = "ones";
  std::string moving_mean_initializer_ = "zeros", moving_variance_initializer_ = "ones";
};

}  // namespace tg
