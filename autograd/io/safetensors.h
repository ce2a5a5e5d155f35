// Reading and writing the safetensors format (https://github.com/huggingface/safetensors):
//   8-byte little-endian header length N | N bytes of JSON header | raw little-endian tensor data.
// The header maps each tensor name to {"dtype": "F32"|"F64", "shape": [...], "data_offsets": [begin, end]} and may
// hold "__metadata__": {string: string}. Files are written atomically: a crash at any instant leaves either the
// previous file or the new one, never a torn one.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "autograd/tensor.h"

namespace tg {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

struct SafetensorsFile {
  std::filesystem::path path;
  std::vector<NamedTensor> tensors;  // in file order
  std::map<std::string, std::string> metadata;

  const Tensor* find(std::string_view name) const;
  // The tensor with this name; throws naming the file and the tensor when absent.
  const Tensor& at(std::string_view name) const;
};

void save_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Throws std::runtime_error naming the file and what is wrong (missing, truncated, corrupt header, bad offsets).
SafetensorsFile load_safetensors(const std::filesystem::path& path);

// Writes bytes to a temporary file in the same folder, fsyncs it, renames it over `path` and fsyncs the folder.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

}  // namespace tg
