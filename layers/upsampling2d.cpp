#include "layers/upsampling2d.h"

#include "autograd/ops.h"
#include "layers/layer_arguments.h"

namespace tg {

UpSampling2D::UpSampling2D(std::array<int, 2> size) : size_(positive_pair(size, "size", "UpSampling2D")) {}

UpSampling2D& UpSampling2D::interpolation(const std::string& i) {
  if (i != "nearest" && i != "bilinear")
    throw std::invalid_argument("UpSampling2D: interpolation '" + i + "' is not one of 'nearest', 'bilinear'");
  interpolation_ = i;
  return *this;
}

Shape UpSampling2D::output_shape(const std::vector<Shape>& inputs) const {
  const Shape& in = single_input(inputs, class_name(), true);
  return {in[0] * size_[0], in[1] * size_[1], in[2]};
}

Variable UpSampling2D::call(const std::vector<Variable>& inputs, CallContext&) const {
  return upsample2d(inputs[0], size_, interpolation_ == "bilinear" ? Interpolation::Bilinear : Interpolation::Nearest);
}

std::shared_ptr<Layer> UpSampling2D::from_config(const nlohmann::json& c) {
  auto l = std::make_shared<UpSampling2D>(c.at("size").get<std::array<int, 2>>());
  l->interpolation(c.at("interpolation").get<std::string>());
  return l;
}

}  // namespace tg
