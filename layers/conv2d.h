// Conv2D, with Keras's arguments and defaults (layers/conv_family.h). Kernel HWIO.
#pragma once
#include "layers/conv_family.h"

namespace tg {

class Conv2D final : public ConvBuilder<Conv2D> {
 public:
  Conv2D(int filters, int kernel_size) : Conv2D(filters, std::array<int, 2>{kernel_size, kernel_size}) {}
  Conv2D(int filters, std::array<int, 2> kernel_size) : ConvBuilder("Conv2D", filters, kernel_size) {}

  std::string class_name() const override { return "Conv2D"; }
  std::string base_name() const override { return "conv2d"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void build(const std::vector<Shape>& inputs) override;
  Variable call(const std::vector<Variable>& inputs, CallContext& context) const override;
  std::string padding_note(const std::vector<Shape>& inputs) const override;
  std::array<int, 2> downsampling() const override { return strides_; }

 private:
  void check_strides_and_dilation() const override;
};

}  // namespace tg
