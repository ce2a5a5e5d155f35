// A Keras model config (what Keras 2's model.save puts in the `model_config` attribute, or a Keras 3 .keras
// archive's config.json) turned into tapegrad's model config (layers/serialization.cpp's "tapegrad.functional").
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace tg::interop {

// A layer as Keras lists it in model.layers: its name and Keras class (whose snake-case form Keras 3 uses as the
// layer's path in weight files).
struct KerasLayerRef {
  std::string name, keras_class;
};

struct TranslatedModel {
  nlohmann::json config;             // for Model::from_config
  std::vector<KerasLayerRef> layers;  // in the Keras config's order
  std::vector<std::string> notes;     // Keras settings tapegrad keeps no counterpart of (regularizers, ...)
};

// `keras` is {"class_name": "Functional" | "Model" | "Sequential", "config": {...}}; `source` names the file in
// errors; `keras_major` (2 or 3) decides BatchNormalization's moving-variance rule; `input_shape` (H, W, C) fills
// the sizes the input layer leaves open (None), or is empty. Throws std::invalid_argument naming the layer and what
// tapegrad lacks (an unknown class, channels_first, a shared layer, ...).
TranslatedModel translate_keras_model(const nlohmann::json& keras, const std::string& source, int keras_major,
                                      const Shape& input_shape);

// Keras's naming.to_snake_case: "Conv2DTranspose" -> "conv2d_transpose", "UpSampling2D" -> "up_sampling2d".
std::string keras_snake_case(const std::string& class_name);

}  // namespace tg::interop
