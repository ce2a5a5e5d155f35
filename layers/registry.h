// Layer classes by Keras class name, for rebuilding a model from its config (load_model, Model::from_config).
//
// A Layer subclass of your own joins the built-in ones with one call before load_model meets it:
//
//   class Scale final : public tg::LayerBuilder<Scale> {      // class_name() returns "Scale"
//     ...
//     static std::shared_ptr<tg::Layer> from_config(const nlohmann::json& config);
//   };
//   tg::register_layer<Scale>("Scale");
#pragma once
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "layers/layer.h"

namespace tg {

using LayerFactory = std::function<std::shared_ptr<Layer>(const nlohmann::json& config)>;

// A fresh, unnamed layer of `class_name` with these Keras arguments; throws naming an unknown class.
std::shared_ptr<Layer> layer_from_config(const std::string& class_name, const nlohmann::json& config);

// Makes `class_name` (what the layer's class_name() returns, as saved in model files) rebuildable by `factory`.
// Registering a name again replaces the earlier factory; the built-in classes cannot be replaced. Thread-safe.
void register_layer(const std::string& class_name, LayerFactory factory);

// The same with T::from_config(const nlohmann::json&) as the factory. Returns true, so that a namespace-scope
// `const bool registered = tg::register_layer<Scale>("Scale");` registers at start-up.
template <class T>
bool register_layer(const std::string& class_name) {
  register_layer(class_name, [](const nlohmann::json& config) -> std::shared_ptr<Layer> { return T::from_config(config); });
  return true;
}

}  // namespace tg
