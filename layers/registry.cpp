#include "layers/registry.h"

#include <map>
#include <mutex>

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

namespace {

const std::map<std::string, LayerFactory>& builtin_layers() {
  static const std::map<std::string, LayerFactory> factories = {
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
  return factories;
}

// The classes users registered, guarded by user_layers_mutex().
std::map<std::string, LayerFactory>& user_layers() {
  static std::map<std::string, LayerFactory> factories;
  return factories;
}
std::mutex& user_layers_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

void register_layer(const std::string& class_name, LayerFactory factory) {
  if (class_name.empty()) throw std::invalid_argument("register_layer: the class name is empty");
  if (!factory) throw std::invalid_argument("register_layer: no factory given for '" + class_name + "'");
  if (builtin_layers().count(class_name))
    throw std::invalid_argument("register_layer: '" + class_name +
                                "' is a built-in layer class; give your layer another class_name()");
  const std::lock_guard lock(user_layers_mutex());
  user_layers()[class_name] = std::move(factory);
}

std::shared_ptr<Layer> layer_from_config(const std::string& class_name, const nlohmann::json& config) {
  LayerFactory factory;
  if (const auto it = builtin_layers().find(class_name); it != builtin_layers().end()) {
    factory = it->second;
  } else {
    const std::lock_guard lock(user_layers_mutex());
    if (const auto user = user_layers().find(class_name); user != user_layers().end()) factory = user->second;
  }
  if (!factory) {
    std::string known;
    for (const auto& [name, f] : builtin_layers()) known += (known.empty() ? "" : ", ") + name;
    {
      const std::lock_guard lock(user_layers_mutex());
      for (const auto& [name, f] : user_layers()) known += ", " + name;
    }
    throw std::invalid_argument("unknown layer class '" + class_name + "' in a model config; known: " + known +
                                ". A layer class of your own is made known with tg::register_layer<T>(\"" +
                                class_name + "\") (layers/registry.h) before loading");
  }
  std::shared_ptr<Layer> layer;
  try {
    layer = factory(config);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("bad config for a " + class_name + " layer: " + e.what());
  }
  if (!layer) throw std::invalid_argument("the factory registered for '" + class_name + "' returned no layer");
  if (layer->class_name() != class_name)
    throw std::invalid_argument("the factory registered for '" + class_name + "' made a layer whose class_name() is '" +
                                layer->class_name() + "'; register the class under the name class_name() returns");
  return layer;
}

}  // namespace tg
