// Writing Keras weight files: Keras 3's `.weights.h5`, or Keras 2's save_weights HDF5 layout for any other `.h5`.
#include <map>
#include <stdexcept>

#include "autograd/io/safetensors.h"
#include "interop/keras.h"
#include "interop/keras_config.h"
#include "interop/keras_h5.h"

namespace tg::interop {

namespace {

bool has_suffix(const std::string& name, const std::string& suffix) {
  return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Keras 3: layers/<class in snake case>[_N]/vars/0, 1, ... in model.layers order.
void write_keras3_layout(hid_t file, const Model& model, const std::string& where) {
  // Keras 3 loads the model's own (empty) variables from the root's vars/ before its layers'.
  h5::create_group(file, "vars", where);
  h5::Handle layers = h5::create_group(file, "layers", where);
  std::map<std::string, int> seen;
  for (const auto& layer : model.layers()) {
    const std::string base = keras_snake_case(layer->class_name());
    const int n = seen[base]++;
    const std::string path = n == 0 ? base : base + "_" + std::to_string(n);
    h5::Handle group = h5::create_group(layers.get(), path, where);
    h5::Handle vars = h5::create_group(group.get(), "vars", where);
    int index = 0;
    for (const Weight& w : layer->weights())
      h5::write_floats(vars.get(), std::to_string(index++), w.variable.value(), where + ": layers/" + path);
  }
}

// Keras 2 (save_weights): layer_names, backend and keras_version attributes; per layer a group with weight_names
// ("conv2d/kernel:0", ...) and the datasets at those paths. tf.keras's load_weights matches the layers that have
// weights by order (or by name with by_name=True); Keras 3 reads the layout for a file named *.h5.
void write_keras2_layout(hid_t file, const Model& model, const std::string& where) {
  std::vector<std::string> names;
  for (const auto& layer : model.layers()) names.push_back(layer->name());
  h5::write_strings(file, "layer_names", names, false, where);
  h5::write_strings(file, "backend", {"tensorflow"}, true, where);
  // Keras 2 reads the version only to tell Keras 1 files ("1"), whose kernels it converts, from its own.
  h5::write_strings(file, "keras_version", {"2"}, true, where);
  for (const auto& layer : model.layers()) {
    h5::Handle group = h5::create_group(file, layer->name(), where);
    std::vector<std::string> weight_names;
    for (const Weight& w : layer->weights()) weight_names.push_back(w.name + ":0");
    h5::write_strings(group.get(), "weight_names", weight_names, false, where + ": " + layer->name());
    if (layer->weights().empty()) continue;
    h5::Handle inner = h5::create_group(group.get(), layer->name(), where);  // "<layer>/<layer>/kernel:0"
    for (const Weight& w : layer->weights())
      h5::write_floats(inner.get(), w.name.substr(w.name.rfind('/') + 1) + ":0", w.variable.value(),
                       where + ": " + layer->name());
  }
}

}  // namespace

void export_keras_weights(const Model& model, const std::filesystem::path& file) {
  const std::string where = file.string();
  const std::string name = file.filename().string();
  const bool keras3 = has_suffix(name, ".weights.h5");
  if (!keras3 && !has_suffix(name, ".h5"))
    throw std::invalid_argument(where + ": name the file *.weights.h5 (Keras 3's layout, which Keras 3 requires for "
                                "it) or *.h5 (Keras 2's save_weights layout)");
  if (model.dtype() != DType::F32)
    throw std::invalid_argument(where + ": the model's weights are not float32 (convert it with model.to(F32))");
  for (const auto& layer : model.layers())
    for (const Weight& w : layer->weights())
      if (!w.name.starts_with(layer->name() + "/"))
        throw std::invalid_argument(where + ": weight '" + w.name + "' is not named after its layer '" +
                                    layer->name() + "'");
  h5::QuietErrors quiet;
  std::string bytes;
  {
    h5::Handle h5file = h5::create_in_memory(where);
    if (keras3)
      write_keras3_layout(h5file.get(), model, where);
    else
      write_keras2_layout(h5file.get(), model, where);
    bytes = h5::image(h5file.get(), where);
  }
  write_file_atomically(file, bytes);
}

}  // namespace tg::interop
