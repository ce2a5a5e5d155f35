#include "layers/registry.h"

#include <map>

#include "layers/activation.h"
#include "layers/batch_normalization.h"
#include "layers/conv2d.h"
#include "layers/conv2d_transpose.h"
#include "layers/dropout.h"
#include "layers/input.h"
#include "layers/merge.h"
#include "layers/pooling.h"
#include "layers/upsampling2d.h"

namespace tg {

std::shared_ptr<Layer> layer_from_config(const std::string& class_name, const nlohmann::json& config) {
  using Factory = std::shared_ptr<Layer> (*)(const nlohmann::json&);
  static const std::map<std::string, Factory> factories = {
      {"InputLayer", &InputLayer::from_config},
      {"Conv2D", &Conv2D::from_config},
      {"Conv2DTranspose", &Conv2DTranspose::from_config},
      {"BatchNormalization", &BatchNormalization::from_config},
      {"Dropout", &Dropout::from_config},
      {"MaxPooling2D", &MaxPooling2D::from_config},
      {"AveragePooling2D", &AveragePooling2D::from_config},
      {"UpSampling2D", &UpSampling2D::from_config},
      {"Concatenate", &Concatenate::from_config},
      {"Add", &Add::from_config},
      {"Activation", &Activation::from_config},
  };
  const auto it = factories.find(class_name);
  if (it == factories.end()) {
    std::string known;
    for (const auto& [name, f] : factories) known += (known.empty() ? "" : ", ") + name;
    throw std::invalid_argument("unknown layer class '" + class_name + "' in a model config; known: " + known);
  }
  try {
    return it->second(config);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("bad config for a " + class_name + " layer: " + e.what());
  }
}

}  // namespace tg
