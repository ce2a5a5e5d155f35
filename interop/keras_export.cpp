// Writing a Keras 3 `.weights.h5`: the layout Keras 3's save_weights writes and its load_weights reads.
#include <map>
#include <stdexcept>

#include "autograd/io/safetensors.h"
#include "interop/keras.h"
#include "interop/keras_config.h"
#include "interop/keras_h5.h"

namespace tg::interop {

void export_keras_weights(const Model& model, const std::filesystem::path& file) {
  const std::string where = file.string();
  const std::string suffix = ".weights.h5";
  const std::string name = file.filename().string();
  if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    throw std::invalid_argument(where + ": Keras 3 reads weights only from files whose names end in .weights.h5");
  if (model.dtype() != DType::F32)
    throw std::invalid_argument(where + ": the model's weights are not float32 (convert it with model.to(F32))");
  h5::QuietErrors quiet;
  std::string bytes;
  {
    h5::Handle h5file = h5::create_in_memory(where);
    // Keras 3 loads the model's own (empty) variables from the root's vars/ before its layers'.
    h5::create_group(h5file.get(), "vars", where);
    h5::Handle layers = h5::create_group(h5file.get(), "layers", where);
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
    bytes = h5::image(h5file.get(), where);
  }
  write_file_atomically(file, bytes);
}

}  // namespace tg::interop
