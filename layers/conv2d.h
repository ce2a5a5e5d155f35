// Conv2D, with Keras's arguments and defaults: strides 1, padding "valid", dilation_rate 1, no activation,
// use_bias true, kernel_initializer "glorot_uniform", bias_initializer "zeros". Kernel HWIO.
#pragma once
#include "layers/layer.h"

namespace tg {

class Conv2D final : public LayerBuilder<Conv2D> {
 public:
  Conv2D(int filters, int kernel_size) : Conv2D(filters, std::array<int, 2>{kernel_size, kernel_size}) {}
  Conv2D(int filters, std::array<int, 2> kernel_size);

  Conv2D& strides(int s) { return strides({s, s}); }
  Conv2D& strides(std::array<int, 2> s);
  Conv2D& padding(const std::string& p);
  Conv2D& dilation_rate(int d) { return dilation_rate({d, d}); }
  Conv2D& dilation_rate(std::array<int, 2> d);
  Conv2D& activation(const std::string& a);
  Conv2D& use_bias(bool b);
  Conv2D& kernel_initializer(const std::string& i);
  Conv2D& bias_initializer(const std::string& i);

  std::string class_name() const override { return "Conv2D"; }
  std::string base_name() const override { return "conv2d"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void build(const std::vector<Shape>& inputs) override;
  Variable call(const std::vector<Variable>& inputs, CallContext& context) const override;
  nlohmann::json config() const override;
  std::string activation() const override { return activation_; }
  std::string padding_note(const std::vector<Shape>& inputs) const override;
  std::array<int, 2> downsampling() const override { return strides_; }
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 private:
  void check_strides_and_dilation() const;
  int filters_;
  std::array<int, 2> kernel_size_;
  std::array<int, 2> strides_{1, 1};
  std::array<int, 2> dilation_{1, 1};
  std::string padding_ = "valid";
  std::string activation_ = "linear";
  bool use_bias_ = true;
  std::string kernel_initializer_ = "glorot_uniform";
  std::string bias_initializer_ = "zeros";
};

}  // namespace tg
