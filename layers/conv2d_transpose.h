// Conv2DTranspose, with Keras's arguments and defaults (strides 1, padding "valid", output_padding None,
// dilation_rate 1, no activation, use_bias true, glorot_uniform / zeros). Kernel (kh, kw, filters, in), as Keras.
#pragma once
#include "autograd/ops.h"
#include "layers/layer.h"

namespace tg {

class Conv2DTranspose final : public LayerBuilder<Conv2DTranspose> {
 public:
  Conv2DTranspose(int filters, int kernel_size)
      : Conv2DTranspose(filters, std::array<int, 2>{kernel_size, kernel_size}) {}
  Conv2DTranspose(int filters, std::array<int, 2> kernel_size);

  Conv2DTranspose& strides(int s) { return strides({s, s}); }
  Conv2DTranspose& strides(std::array<int, 2> s);
  Conv2DTranspose& padding(const std::string& p);
  Conv2DTranspose& output_padding(std::array<int, 2> p);  // {-1, -1} = None
  Conv2DTranspose& dilation_rate(int d) { return dilation_rate({d, d}); }
  Conv2DTranspose& dilation_rate(std::array<int, 2> d);
  Conv2DTranspose& activation(const std::string& a);
  Conv2DTranspose& use_bias(bool b);
  Conv2DTranspose& kernel_initializer(const std::string& i);
  Conv2DTranspose& bias_initializer(const std::string& i);

  std::string class_name() const override { return "Conv2DTranspose"; }
  std::string base_name() const override { return "conv2d_transpose"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void build(const std::vector<Shape>& inputs) override;
  Variable call(const std::vector<Variable>& inputs, CallContext& context) const override;
  nlohmann::json config() const override;
  std::string activation() const override { return activation_; }
  std::string padding_note(const std::vector<Shape>& inputs) const override;
  std::array<int, 2> upsampling() const override { return strides_; }
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 private:
  Conv2DTransposeOptions options() const;
  int filters_;
  std::array<int, 2> kernel_size_;
  std::array<int, 2> strides_{1, 1};
  std::array<int, 2> dilation_{1, 1};
  std::array<int, 2> output_padding_{-1, -1};
  std::string padding_ = "valid";
  std::string activation_ = "linear";
  bool use_bias_ = true;
  std::string kernel_initializer_ = "glorot_uniform";
  std::string bias_initializer_ = "zeros";
};

}  // namespace tg
