#include "autograd/io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; this port assumes it");

namespace tg {

namespace {
std::runtime_error file_error(const std::filesystem::path& path, const std::string& what) {
  return std::runtime_error(path.string() + ": " + what);
}

void write_all(int fd, const char* data, size_t n, const std::filesystem::path& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw file_error(path, std::string("write failed: ") + std::strerror(errno));
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
}
}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string name = path.filename().string();
  name.insert(name.begin(), '.');  // hidden while being written
  name += ".tmp-XXXXXX";
  std::string tmpl = (dir / name).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw file_error(path, std::string("cannot create a temporary file: ") + std::strerror(errno));
  try {
    // mkstemp creates the file owner-only; give it the permissions any new file gets (0666 less the umask).
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    write_all(fd, bytes.data(), bytes.size(), path);
    if (::fsync(fd) != 0) throw file_error(path, std::string("fsync failed: ") + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmpl.c_str());
    throw;
  }
  ::close(fd);
  if (std::rename(tmpl.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmpl.c_str());
    throw file_error(path, std::string("rename failed: ") + std::strerror(err));
  }
  // The rename is only durable once the folder's entry is on disk.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

const Tensor* SafetensorsFile::find(std::string_view name) const {
  for (const NamedTensor& t : tensors)
    if (t.name == name) return &t.tensor;
  return nullptr;
}

const Tensor& SafetensorsFile::at(std::string_view name) const {
  if (const Tensor* t = find(name)) return *t;
  throw file_error(path, "has no tensor named '" + std::string(name) + "'");
}

void save_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const NamedTensor& t : tensors) {
    if (header.contains(t.name)) throw file_error(path, "duplicate tensor name '" + t.name + "'");
    header[t.name] = {{"dtype", t.tensor.dtype() == DType::F32 ? "F32" : "F64"},
                      {"shape", t.tensor.shape()},
                      {"data_offsets", {offset, offset + t.tensor.nbytes()}}};
    offset += t.tensor.nbytes();
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned, as the format recommends
  std::string bytes(8, '\0');
  const uint64_t n = json.size();
  std::memcpy(bytes.data(), &n, 8);
  bytes += json;
  bytes.reserve(bytes.size() + offset);
  for (const NamedTensor& t : tensors)
    bytes.append(reinterpret_cast<const char*>(t.tensor.bytes()), t.tensor.nbytes());
  write_file_atomically(path, bytes);
}

SafetensorsFile load_safetensors(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, "cannot open (" + std::string(std::strerror(errno)) + ")");
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  if (file_size < 8) throw file_error(path, "not a safetensors file: only " + std::to_string(file_size) + " bytes");
  uint64_t header_size = 0;
  in.read(reinterpret_cast<char*>(&header_size), 8);
  if (header_size > file_size - 8)
    throw file_error(path, "truncated or not a safetensors file: header of " + std::to_string(header_size) +
                               " bytes but the file has " + std::to_string(file_size) + " bytes");
  std::string json(header_size, '\0');
  in.read(json.data(), static_cast<std::streamsize>(header_size));
  nlohmann::ordered_json header;
  try {
    header = nlohmann::ordered_json::parse(json);
  } catch (const std::exception& e) {
    throw file_error(path, std::string("corrupt safetensors header: ") + e.what());
  }
  if (!header.is_object()) throw file_error(path, "corrupt safetensors header: not a JSON object");
  const uint64_t data_size = file_size - 8 - header_size;
  SafetensorsFile file;
  file.path = path;
  for (auto& [name, entry] : header.items()) {
    try {
      if (name == "__metadata__") {
        for (auto& [k, v] : entry.items()) file.metadata[k] = v.get<std::string>();
        continue;
      }
      const std::string dtype = entry.at("dtype").get<std::string>();
      if (dtype != "F32" && dtype != "F64")
        throw file_error(path, "tensor '" + name + "' has dtype " + dtype + "; tapegrad reads F32 and F64");
      const Shape shape = entry.at("shape").get<Shape>();
      const auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
      Tensor t(shape, dtype == "F32" ? DType::F32 : DType::F64);
      if (offsets.size() != 2 || offsets[1] < offsets[0] || offsets[1] - offsets[0] != t.nbytes())
        throw file_error(path, "tensor '" + name + "' of shape " + shape_str(shape) + " has inconsistent data_offsets");
      if (offsets[1] > data_size)
        throw file_error(path, "truncated: tensor '" + name + "' ends at byte " + std::to_string(offsets[1]) +
                                   " of the data but the file holds " + std::to_string(data_size));
      in.seekg(static_cast<std::streamoff>(8 + header_size + offsets[0]));
      in.read(reinterpret_cast<char*>(t.bytes()), static_cast<std::streamsize>(t.nbytes()));
      if (!in) throw file_error(path, "read error in tensor '" + name + "'");
      file.tensors.push_back({name, std::move(t)});
    } catch (const nlohmann::json::exception& e) {
      throw file_error(path, "corrupt safetensors header entry '" + name + "': " + e.what());
    }
  }
  return file;
}

}  // namespace tg
