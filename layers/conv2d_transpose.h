// Conv2DTranspose, with Keras's arguments and defaults (layers/conv_family.h) plus output_padding (None).
// Kernel (kh, kw, filters, in), as Keras.
#pragma once
#include "layers/conv_family.h"

namespace tg {

class Conv2DTranspose final : public ConvBuilder<Conv2DTranspose> {
 public:
  Conv2DTranspose(int filters, int kernel_size)
      : Conv2DTranspose(filters, std::array<int, 2>{kernel_size, kernel_size}) {}
  Conv2DTranspose(int filters, std::array<int, 2> kernel_size) : ConvBuilder("Conv2DTranspose", filters, kernel_size) {}

  Conv2DTranspose& output_padding(std::array<int, 2> p);  // {-1, -1} = None

  std::string class_name() const override { return "Conv2DTranspose"; }
  std::string base_name() const override { return "conv2d_transpose"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void build(const std::vector<Shape>& inputs) override;
  Variable call(const std::vector<Variable>& inputs, CallContext& context) const override;
  nlohmann::json config() const override;
  void read_config(const nlohmann::json& config) override;
  std::string padding_note(const std::vector<Shape>& inputs) const override;
  std::array<int, 2> upsampling() const override { return strides_; }

 private:
  std::array<int, 2> output_padding_{-1, -1};
};

}  // namespace tg
