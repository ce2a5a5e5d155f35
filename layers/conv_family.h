// What Conv2D and Conv2DTranspose share: Keras's arguments (filters, kernel_size, strides, padding, dilation_rate,
// activation, use_bias, kernel_initializer, bias_initializer) with their defaults (strides 1, padding "valid",
// dilation 1, no activation, bias on, glorot_uniform / zeros), their builder setters, config and weights.
// Padding and activation strings are parsed here, once, when the layer is described; errors name the layer and the
// accepted values.
#pragma once
#include <array>
#include <memory>
#include <string>

#include "autograd/ops.h"
#include "layers/activation_functions.h"
#include "layers/layer_builder.h"

namespace tg {

class ConvLayer : public Layer {
 public:
  nlohmann::json config() const override;
  std::string activation() const override { return activation_name(activation_); }
  // Sets every argument from a config written by config() (from_config's second half).
  virtual void read_config(const nlohmann::json& config);

 protected:
  // `who` names the class in errors raised before the layer is complete (filters, kernel_size).
  ConvLayer(const char* who, int filters, std::array<int, 2> kernel_size);

  void set_strides(std::array<int, 2> s);
  void set_dilation(std::array<int, 2> d);
  void set_padding(const std::string& p);
  void set_activation(const std::string& a);
  void set_kernel_initializer(const std::string& i);
  void set_bias_initializer(const std::string& i);
  // Called after strides or dilation change (Conv2D refuses both above 1 together, as Keras does).
  virtual void check_strides_and_dilation() const {}

  // Adds "kernel" of this shape and, with use_bias, "bias" [filters].
  void add_conv_weights(Shape kernel_shape);
  const Variable& kernel() const { return weight(0); }
  Variable bias() const { return use_bias_ ? weight(1) : Variable(); }
  // The op's arguments (output_padding left at None).
  ConvOptions options() const;
  // The layer's activation applied to the convolution's output, unless the caller asked for logits.
  Variable activate(const Variable& y, const CallContext& context) const;

  int filters_;
  std::array<int, 2> kernel_size_;
  std::array<int, 2> strides_{1, 1};
  std::array<int, 2> dilation_{1, 1};
  Padding padding_ = Padding::Valid;
  ActivationFunction activation_ = ActivationFunction::Linear;
  bool use_bias_ = true;
  std::string kernel_initializer_ = "glorot_uniform";
  std::string bias_initializer_ = "zeros";
};

// The chaining setters, returning the concrete class: Conv2D(64, 3).activation("relu").padding("same").
template <class Derived>
class ConvBuilder : public LayerBuilder<Derived, ConvLayer> {
 public:
  using ConvLayer::activation;
  Derived& strides(int s) { return strides({s, s}); }
  Derived& strides(std::array<int, 2> s) { return this->set_strides(s), self(); }
  Derived& padding(const std::string& p) { return this->set_padding(p), self(); }
  Derived& dilation_rate(int d) { return dilation_rate({d, d}); }
  Derived& dilation_rate(std::array<int, 2> d) { return this->set_dilation(d), self(); }
  Derived& activation(const std::string& a) { return this->set_activation(a), self(); }
  Derived& use_bias(bool b) { return this->use_bias_ = b, self(); }
  Derived& kernel_initializer(const std::string& i) { return this->set_kernel_initializer(i), self(); }
  Derived& bias_initializer(const std::string& i) { return this->set_bias_initializer(i), self(); }

  static std::shared_ptr<Layer> from_config(const nlohmann::json& config) {
    auto l = std::make_shared<Derived>(config.at("filters").template get<int>(),
                                       config.at("kernel_size").template get<std::array<int, 2>>());
    l->read_config(config);
    return l;
  }

 protected:
  ConvBuilder(const char* who, int filters, std::array<int, 2> kernel_size)
      : LayerBuilder<Derived, ConvLayer>(who, filters, kernel_size) {}

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace tg
