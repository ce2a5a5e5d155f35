// Keras weights in and out: whole models from Keras files, weights into tapegrad models, and tapegrad weights as a
// Keras 3 `.weights.h5`. Layouts read (facts from Keras's saving code):
//   Keras 2 model.save(...h5):  attributes keras_version, backend, model_config (JSON); group model_weights/ with
//                               attribute layer_names and, per layer, a group with attribute weight_names and one
//                               dataset per weight ("conv2d/kernel:0"), trainable weights before non-trainable ones
//   Keras 2 save_weights(.h5):  the same as model_weights/, at the file's root
//   Keras 3 .weights.h5:        layers/<layer class in snake case, _1, _2, ... per class>/vars/0, 1, ... (in
//                               model.layers order), and an empty vars/ group at the root
//   Keras 3 .keras:             a zip of metadata.json, config.json (the model) and model.weights.h5 (as above)
// Kernels are HWIO in Keras and in tapegrad (Conv2DTranspose: height, width, filters, input channels, in both), and
// BatchNormalization's four tensors are gamma, beta, moving_mean, moving_variance in both, so tensors carry over
// unchanged; only the names and the file structure differ.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "layers/model.h"

namespace tg::interop {

enum class KerasFormat { Keras2Model, Keras2Weights, Keras3Weights, Keras3Archive };
// "Keras 2 HDF5 model (model.save)", ...
std::string format_name(KerasFormat format);

struct KerasImportOptions {
  Shape input_shape;  // (H, W, C) for the sizes the model's input leaves open (None); empty: they must be fixed
};

struct KerasImport {
  Model model;
  KerasFormat format;
  std::string keras_version;       // as the file says, "" when it does not
  std::vector<std::string> notes;  // Keras settings tapegrad does not apply (regularizers, unknown initializers)
};

// A whole model from a file that holds its architecture: Keras 2's model.save HDF5 or a .keras archive. Throws
// naming the file and the layer or group at fault (an unknown layer class, a missing weight, another shape).
KerasImport import_keras_model(const std::filesystem::path& file, const KerasImportOptions& options = {});

// Loads the weights of any of the four layouts into `model` and says how they were matched. Keras 3 files go by
// Keras's own paths (class name and count); Keras 2 files by layer name, or, when the names differ, by the order of
// the layers that have weights (as Keras's load_weights does). Every tensor is checked (count, shape) before any
// is copied, so a failure leaves the model as it was.
std::string load_keras_weights(Model& model, const std::filesystem::path& file);

// Writes the model's weights as a Keras 3 `.weights.h5` (the name must end so, as Keras requires), atomically: a
// temporary file renamed over `file`. Keras's load_weights reads it into the same architecture built in Keras
// when its layers come in the same order (model.layers), as they do for models written layer by layer like the zoo's.
void export_keras_weights(const Model& model, const std::filesystem::path& file);

}  // namespace tg::interop
