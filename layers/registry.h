// Layer classes by Keras class name, for rebuilding a model from its config.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "layers/layer.h"

namespace tg {

// A fresh, unnamed layer of `class_name` with these Keras arguments; throws naming an unknown class.
std::shared_ptr<Layer> layer_from_config(const std::string& class_name, const nlohmann::json& config);

}  // namespace tg
