// Joins: Concatenate(axis = -1) / concatenate({a, b}, axis) and Add() / add({a, b}). When their inputs do not
// line up the error names every input with its shape and, for height or width, the input sizes that would work.
#pragma once
#include "layers/layer_builder.h"

namespace tg {

class Concatenate final : public LayerBuilder<Concatenate> {
 public:
  explicit Concatenate(int axis = -1) : axis_(axis) {}

  std::string class_name() const override { return "Concatenate"; }
  std::string base_name() const override { return "concatenate"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  Variable call(const std::vector<Variable>& inputs, CallContext& context) const override;
  nlohmann::json config() const override { return {{"axis", axis_}}; }
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);
  int axis() const { return axis_; }

 private:
  int axis_;  // counted with the batch axis, as in Keras: -1 and 3 both mean channels for images
};

class Add final : public LayerBuilder<Add> {
 public:
  Add() = default;

  std::string class_name() const override { return "Add"; }
  std::string base_name() const override { return "add"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  Variable call(const std::vector<Variable>& inputs, CallContext& context) const override;
  nlohmann::json config() const override { return nlohmann::json::object(); }
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);
};

// Keras's functional spellings.
SymbolicTensor concatenate(std::vector<SymbolicTensor> inputs, int axis = -1);
SymbolicTensor add(std::vector<SymbolicTensor> inputs);

}  // namespace tg
