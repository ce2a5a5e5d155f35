#include "layers/batch_normalization.h"

#include "layers/initializers.h"
#include "layers/layer_arguments.h"

namespace tg {

BatchNormalization& BatchNormalization::axis(int a) {
  axis_ = a;
  return *this;
}
BatchNormalization& BatchNormalization::momentum(double m) {
  if (!(m >= 0 && m <= 1))
    throw std::invalid_argument("BatchNormalization: momentum must be in [0, 1], got " + std::to_string(m));
  options_.momentum = m;
  return *this;
}
BatchNormalization& BatchNormalization::epsilon(double e) {
  if (!(e > 0)) throw std::invalid_argument("BatchNormalization: epsilon must be positive, got " + std::to_string(e));
  options_.epsilon = e;
  return *this;
}
BatchNormalization& BatchNormalization::center(bool c) {
  center_ = c;
  return *this;
}
BatchNormalization& BatchNormalization::scale(bool s) {
  scale_ = s;
  return *this;
}
BatchNormalization& BatchNormalization::beta_initializer(const std::string& i) {
  beta_initializer_ = checked_initializer(i, "BatchNormalization");
  return *this;
}
BatchNormalization& BatchNormalization::gamma_initializer(const std::string& i) {
  gamma_initializer_ = checked_initializer(i, "BatchNormalization");
  return *this;
}
BatchNormalization& BatchNormalization::moving_mean_initializer(const std::string& i) {
  moving_mean_initializer_ = checked_initializer(i, "BatchNormalization");
  return *this;
}
BatchNormalization& BatchNormalization::moving_variance_initializer(const std::string& i) {
  moving_variance_initializer_ = checked_initializer(i, "BatchNormalization");
  return *this;
}
BatchNormalization& BatchNormalization::unbiased_moving_variance(bool u) {
  options_.unbiased_moving_variance = u;
  return *this;
}

Shape BatchNormalization::output_shape(const std::vector<Shape>& inputs) const {
  const Shape& in = single_input(inputs, class_name(), false);
  const int last = static_cast<int>(in.size());  // the last axis, counted with the batch axis as Keras does
  if (axis_ != -1 && axis_ != last)
    throw ShapeError("Its axis " + std::to_string(axis_) + " is not the channel axis (-1 or " + std::to_string(last) +
                     "); tapegrad normalises over the last axis only.");
  return in;
}

void BatchNormalization::build(const std::vector<Shape>& inputs) {
  const int64_t c = inputs[0].back();
  if (scale_) add_weight("gamma", {c}, true, gamma_initializer_);
  if (center_) add_weight("beta", {c}, true, beta_initializer_);
  add_weight("moving_mean", {c}, false, moving_mean_initializer_);
  add_weight("moving_variance", {c}, false, moving_variance_initializer_);
}

Variable BatchNormalization::call(const std::vector<Variable>& inputs, CallContext& context) const {
  size_t i = 0;
  const Variable gamma = scale_ ? weight(i++) : Variable();
  const Variable beta = center_ ? weight(i++) : Variable();
  Variable moving_mean = weight(i++), moving_variance = weight(i);
  return batch_norm(inputs[0], gamma, beta, moving_mean.value(), moving_variance.value(), context.training, options_,
                    context.batch_parts);
}

nlohmann::json BatchNormalization::config() const {
  return {{"axis", axis_},
          {"momentum", options_.momentum},
          {"epsilon", options_.epsilon},
          {"center", center_},
          {"scale", scale_},
          {"beta_initializer", beta_initializer_},
          {"gamma_initializer", gamma_initializer_},
          {"moving_mean_initializer", moving_mean_initializer_},
          {"moving_variance_initializer", moving_variance_initializer_},
          {"unbiased_moving_variance", options_.unbiased_moving_variance}};
}

std::shared_ptr<Layer> BatchNormalization::from_config(const nlohmann::json& c) {
  auto l = std::make_shared<BatchNormalization>();
  l->axis(c.at("axis").get<int>())
      .momentum(c.at("momentum").get<double>())
      .epsilon(c.at("epsilon").get<double>())
      .center(c.at("center").get<bool>())
      .scale(c.at("scale").get<bool>())
      .beta_initializer(c.at("beta_initializer").get<std::string>())
      .gamma_initializer(c.at("gamma_initializer").get<std::string>())
      .moving_mean_initializer(c.at("moving_mean_initializer").get<std::string>())
      .moving_variance_initializer(c.at("moving_variance_initializer").get<std::string>())
      .unbiased_moving_variance(c.at("unbiased_moving_variance").get<bool>());
  return l;
}

}  // namespace tg
