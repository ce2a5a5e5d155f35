// Dropout(rate): inverted dropout in training, identity at inference. Masks come from the model's generator
// (Model::rng()), drawn in graph order, so a step replays exactly from the generator's state.
#pragma once
#include "layers/layer_builder.h"

namespace tg {

class Dropout final : public LayerBuilder<Dropout> {
 public:
  explicit Dropout(double rate);

  std::string class_name() const override { return "Dropout"; }
  std::string base_name() const override { return "dropout"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  Variable call(const std::vector<Variable>& inputs, CallContext& context) const override;
  nlohmann::json config() const override { return {{"rate", rate_}}; }
  bool passes_through() const override { return true; }
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 private:
  double rate_;
};

}  // namespace tg
