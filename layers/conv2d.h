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

  // The layer on upsample2d(x, 2, nearest) and on concat(parts, channels), each computed by one fused op that never
  // builds the tensor between them (layers/fusion.h plans where a Model uses them): the values of the two layers to
  // float32 rounding. Only a 2x2, stride-1, undilated 'same' Conv2D fuses with the upsampling; any fuses with a join.
  bool fuses_with_upsampling() const;
  Variable call_upsampled(const Variable& x, CallContext& context) const;
  Variable call_concatenated(const std::vector<Variable>& parts, CallContext& context) const;

 private:
  void check_strides_and_dilation() const override;
  // conv(options) with the layer's activation: a 'relu' inside the convolution, any other after it.
  template <class Convolution>
  Variable convolve(Convolution&& conv, const CallContext& context) const;
};

}  // namespace tg
