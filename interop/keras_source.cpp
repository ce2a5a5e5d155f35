#include "interop/keras_source.h"

#include <fstream>
#include <stdexcept>

namespace tg::interop {

namespace {
constexpr size_t kMaxKerasJsonBytes = size_t(64) << 20;
constexpr size_t kMaxKerasWeightsBytes = size_t(16) << 30;

nlohmann::json parse_keras_json(const std::string& text, const std::string& where) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(where + " is not valid JSON: " + e.what());
  }
}

std::string first_string_attribute(hid_t loc, const std::string& name, const std::string& where) {
  if (!h5::has_attribute(loc, name)) return "";
  const std::vector<std::string> values = h5::read_strings(loc, name, where);
  return values.empty() ? "" : values.front();
}

void open_archive(KerasSource& s, const std::filesystem::path& path) {
  s.format = KerasFormat::Keras3Archive;
  if (zip_has_member(path, "model.weights.npz"))
    throw std::runtime_error(s.path + ": its weights are in model.weights.npz; tapegrad reads the default "
                             "model.weights.h5 (save with weights_format=\"h5\")");
  const nlohmann::json metadata =
      parse_keras_json(read_zip_member(path, "metadata.json", kMaxKerasJsonBytes), s.path + ": metadata.json");
  s.keras_version = metadata.is_object() ? metadata.value("keras_version", std::string()) : "";
  s.model_config = parse_keras_json(read_zip_member(path, "config.json", kMaxKerasJsonBytes), s.path + ": config.json");
  s.weights_where = s.path + ": model.weights.h5";
  s.file = h5::open_image(read_zip_member(path, "model.weights.h5", kMaxKerasWeightsBytes), s.weights_where);
  s.weights = h5::open_group(s.file.get(), "/", s.weights_where);
}
}  // namespace

std::string format_name(KerasFormat format) {
  switch (format) {
    case KerasFormat::Keras2Model: return "Keras 2 HDF5 model (model.save)";
    case KerasFormat::Keras2Weights: return "Keras 2 HDF5 weights (save_weights)";
    case KerasFormat::Keras3Weights: return "Keras 3 weights (.weights.h5)";
    case KerasFormat::Keras3Archive: return "Keras 3 archive (.keras)";
  }
  return "?";
}

int KerasSource::keras_major() const {
  if (!keras_version.empty() && keras_version[0] >= '1' && keras_version[0] <= '9') return keras_version[0] - '0';
  return format == KerasFormat::Keras3Weights || format == KerasFormat::Keras3Archive ? 3 : 2;
}

KerasSource open_keras_source(const std::filesystem::path& path) {
  KerasSource s;
  s.path = path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw std::runtime_error(s.path + ": no such file");
  if (!std::filesystem::is_regular_file(path, ec)) throw std::runtime_error(s.path + ": not a regular file");
  char magic[4] = {};
  std::ifstream(path, std::ios::binary).read(magic, 4);
  if (std::string(magic, 4) == std::string("PK\x03\x04", 4)) {
    open_archive(s, path);
    return s;
  }
  if (!h5::is_hdf5(path))
    throw std::runtime_error(s.path + ": neither an HDF5 file (Keras's .h5, .weights.h5) nor a zip archive (.keras)");
  s.file = h5::open_file(path);
  s.weights_where = s.path;
  const hid_t root = s.file.get();
  if (h5::has_attribute(root, "model_config")) {
    if (!h5::exists(root, "model_weights"))
      throw std::runtime_error(s.path + ": has a model_config attribute but no 'model_weights' group: it was saved "
                               "without weights");
    s.format = KerasFormat::Keras2Model;
    s.model_config = parse_keras_json(first_string_attribute(root, "model_config", s.path), s.path + ": attribute model_config");
    s.weights = h5::open_group(root, "model_weights", s.path);
    s.weights_where = s.path + ": model_weights";
    s.keras_version = first_string_attribute(root, "keras_version", s.path);
    if (s.keras_version.empty()) s.keras_version = first_string_attribute(s.weights.get(), "keras_version", s.path);
    return s;
  }
  if (h5::has_attribute(root, "layer_names") || h5::has_attribute(root, "layer_names0")) {
    s.format = KerasFormat::Keras2Weights;
    s.weights = h5::open_group(root, "/", s.path);
    s.keras_version = first_string_attribute(root, "keras_version", s.path);
    return s;
  }
  if (h5::exists(root, "layers") || h5::exists(root, "_layer_checkpoint_dependencies")) {
    s.format = KerasFormat::Keras3Weights;
    s.weights = h5::open_group(root, "/", s.path);
    return s;
  }
  throw std::runtime_error(s.path + ": an HDF5 file, but not in a layout Keras writes: it has no 'model_config' "
                           "attribute with a 'model_weights' group (model.save), no 'layer_names' attribute "
                           "(save_weights) and no 'layers' group (Keras 3 .weights.h5)");
}

}  // namespace tg::interop
