// MaxPooling2D and AveragePooling2D, with Keras's defaults: pool_size (2, 2), strides = pool_size, padding
// "valid". 'same' pools pad with cells that never win the max and are left out of the average's count.
#pragma once
#include "autograd/ops.h"
#include "layers/layer_builder.h"

namespace tg {

// What both poolings share: arguments, shape rule, summary note, config.
class Pooling2D : public Layer {
 public:
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  nlohmann::json config() const override;
  std::string padding_note(const std::vector<Shape>& inputs) const override;
  std::array<int, 2> downsampling() const override { return effective_strides(); }

 protected:
  explicit Pooling2D(std::array<int, 2> pool_size);
  void set_strides(std::array<int, 2> s);
  void set_padding(const std::string& p);
  std::array<int, 2> effective_strides() const { return strides_[0] < 0 ? pool_size_ : strides_; }
  Pool2DOptions options() const;
  void read_config(const nlohmann::json& config);

 private:
  std::array<int, 2> pool_size_;
  std::array<int, 2> strides_{-1, -1};  // -1 = pool_size (Keras's None)
  Padding padding_ = Padding::Valid;
};

template <class Derived>
class PoolingBuilder : public LayerBuilder<Derived, Pooling2D> {
 public:
  explicit PoolingBuilder(int pool_size) : PoolingBuilder(std::array<int, 2>{pool_size, pool_size}) {}
  explicit PoolingBuilder(std::array<int, 2> pool_size = {2, 2}) : LayerBuilder<Derived, Pooling2D>(pool_size) {}
  Derived& strides(int s) { return strides({s, s}); }
  Derived& strides(std::array<int, 2> s) { return this->set_strides(s), static_cast<Derived&>(*this); }
  Derived& padding(const std::string& p) { return this->set_padding(p), static_cast<Derived&>(*this); }
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config) {
    auto l = std::make_shared<Derived>(config.at("pool_size").template get<std::array<int, 2>>());
    l->read_config(config);
    return l;
  }
};

class MaxPooling2D final : public PoolingBuilder<MaxPooling2D> {
 public:
  using PoolingBuilder::PoolingBuilder;
  std::string class_name() const override { return "MaxPooling2D"; }
  std::string base_name() const override { return "max_pooling2d"; }
  Variable call(const std::vector<Variable>& inputs, CallContext& context) const override;
};

class AveragePooling2D final : public PoolingBuilder<AveragePooling2D> {
 public:
  using PoolingBuilder::PoolingBuilder;
  std::string class_name() const override { return "AveragePooling2D"; }
  std::string base_name() const override { return "average_pooling2d"; }
  Variable call(const std::vector<Variable>& inputs, CallContext& context) const override;
};

}  // namespace tg
