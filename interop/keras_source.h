// An opened Keras file: which layout it has, where its weights are, and its model config when it holds one.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "interop/keras.h"
#include "interop/keras_h5.h"

namespace tg::interop {

struct KerasSource {
  std::string path;  // as errors name it
  KerasFormat format = KerasFormat::Keras2Weights;
  h5::Handle file;
  h5::Handle weights;  // the group holding the layers' weights: model_weights/ or the root
  std::string weights_where;  // "model.h5" or "model.keras: model.weights.h5", for errors
  std::optional<nlohmann::json> model_config;
  std::string keras_version;
  int keras_major() const;  // 2 or 3: from keras_version, else the format's
};

// Opens and identifies `path`; throws naming it when it is missing, not HDF5 nor zip, or no layout Keras writes.
KerasSource open_keras_source(const std::filesystem::path& path);

// The members of a zip archive (libzip), each at most `max_bytes`; throws naming the archive and the member.
std::string read_zip_member(const std::filesystem::path& archive, const std::string& member, size_t max_bytes);
bool zip_has_member(const std::filesystem::path& archive, const std::string& member);

}  // namespace tg::interop
