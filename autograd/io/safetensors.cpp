#include "autograd/io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstdint>
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

namespace {
// One tensor as the header describes it, checked against the file before anything is allocated for it.
struct TensorEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;  // byte range within the data section
};

TensorEntry read_entry(const std::filesystem::path& path, const std::string& name, const nlohmann::ordered_json& entry,
                       uint64_t data_size) {
  const std::string dtype = entry.at("dtype").get<std::string>();
  if (dtype != "F32" && dtype != "F64")
    throw file_error(path, "tensor '" + name + "' has dtype " + dtype + "; tapegrad reads F32 and F64");
  TensorEntry t{name, dtype == "F32" ? DType::F32 : DType::F64, {}, 0, 0};
  const nlohmann::ordered_json& dims = entry.at("shape");
  if (!dims.is_array()) throw file_error(path, "tensor '" + name + "': shape is not a list");
  // The byte count, in unsigned arithmetic that cannot overflow unnoticed (a shape's product can exceed 2^64).
  uint64_t bytes = dtype == "F32" ? 4 : 8;
  for (const auto& d : dims) {
    if (!d.is_number_integer() || (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0))
      throw file_error(path, "tensor '" + name + "': shape " + dims.dump() + " holds " + d.dump() +
                                 ", not a non-negative integer");
    const uint64_t extent = d.get<uint64_t>();
    if (extent > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(bytes, extent, &bytes))
      throw file_error(path, "tensor '" + name + "': shape " + dims.dump() + " is too large to exist");
    t.shape.push_back(static_cast<int64_t>(extent));
  }
  const nlohmann::ordered_json& offsets = entry.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
    throw file_error(path, "tensor '" + name + "': data_offsets " + offsets.dump() + " is not a pair of byte offsets");
  t.begin = offsets[0].get<uint64_t>();
  t.end = offsets[1].get<uint64_t>();
  if (t.end < t.begin || t.end - t.begin != bytes)
    throw file_error(path, "tensor '" + name + "' of shape " + shape_str(t.shape) + " has inconsistent data_offsets");
  if (t.end > data_size)
    throw file_error(path, "truncated: tensor '" + name + "' ends at byte " + std::to_string(t.end) +
                               " of the data but the file holds " + std::to_string(data_size));
  return t;
}
}  // namespace

SafetensorsFile load_safetensors(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    throw file_error(path, "is not a regular file (a folder, device or pipe), so not a safetensors file");
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
  std::vector<TensorEntry> entries;
  for (auto& [name, entry] : header.items()) {
    try {
      if (name == "__metadata__") {
        for (auto& [k, v] : entry.items()) file.metadata[k] = v.get<std::string>();
        continue;
      }
      entries.push_back(read_entry(path, name, entry, data_size));
    } catch (const nlohmann::json::exception& e) {
      throw file_error(path, "corrupt safetensors header entry '" + name + "': " + e.what());
    }
  }
  // Every byte of data belongs to at most one tensor.
  std::vector<const TensorEntry*> by_start;
  for (const TensorEntry& t : entries) by_start.push_back(&t);
  std::sort(by_start.begin(), by_start.end(), [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_start.size(); ++i)
    if (by_start[i]->begin < by_start[i - 1]->end)
      throw file_error(path, "tensors '" + by_start[i - 1]->name + "' and '" + by_start[i]->name +
                                 "' overlap in the data (corrupt data_offsets)");
  for (const TensorEntry& e : entries) {
    Tensor t(e.shape, e.dtype);
    in.seekg(static_cast<std::streamoff>(8 + header_size + e.begin));
    in.read(reinterpret_cast<char*>(t.bytes()), static_cast<std::streamsize>(t.nbytes()));
    if (!in) throw file_error(path, "read error in tensor '" + e.name + "'");
    file.tensors.push_back({e.name, std::move(t)});
  }
  return file;
}

}  // namespace tg
