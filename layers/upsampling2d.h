// UpSampling2D(size = (2, 2), interpolation = "nearest" | "bilinear"), as Keras; bilinear uses half-pixel
// centres like tf.image.resize.
#pragma once
#include "layers/layer_builder.h"

namespace tg {

class UpSampling2D final : public LayerBuilder<UpSampling2D> {
 public:
  explicit UpSampling2D(int size) : UpSampling2D(std::array<int, 2>{size, size}) {}
  explicit UpSampling2D(std::array<int, 2> size = {2, 2});
  UpSampling2D& interpolation(const std::string& i);
  const std::string& interpolation() const { return interpolation_; }

  std::string class_name() const override { return "UpSampling2D"; }
  std::string base_name() const override { return "up_sampling2d"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  Variable call(const std::vector<Variable>& inputs, CallContext& context) const override;
  std::array<int, 2> upsampling() const override { return size_; }
  nlohmann::json config() const override { return {{"size", size_}, {"interpolation", interpolation_}}; }
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 private:
  std::array<int, 2> size_;
  std::string interpolation_ = "nearest";
};

}  // namespace tg
