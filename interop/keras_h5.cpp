#include "interop/keras_h5.h"

#include <cstring>
#include <limits>
#include <stdexcept>

namespace tg::interop::h5 {

namespace {
std::runtime_error h5_error(const std::string& where, const std::string& what) {
  return std::runtime_error(where + ": " + what);
}

// Keras's own tensors are far below this; a header claiming more is a damaged or hostile file.
constexpr int64_t kMaxH5Elements = int64_t(1) << 34;
constexpr size_t kMaxH5AttributeBytes = size_t(1) << 28;

std::string h5_join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }
}  // namespace

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    if (id_ >= 0 && close_) close_(id_);
    id_ = other.id_;
    close_ = other.close_;
    other.id_ = -1;
  }
  return *this;
}

Handle::~Handle() {
  if (id_ >= 0 && close_) close_(id_);
}

QuietErrors::QuietErrors() {
  H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

QuietErrors::~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

bool is_hdf5(const std::filesystem::path& path) { return H5Fis_hdf5(path.c_str()) > 0; }

Handle open_file(const std::filesystem::path& path) {
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (file.get() < 0) throw h5_error(path.string(), "cannot be opened as an HDF5 file");
  return file;
}

Handle open_image(const std::string& bytes, const std::string& name) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (fapl.get() < 0 || H5Pset_fapl_core(fapl.get(), 1 << 16, false) < 0 ||
      H5Pset_file_image(fapl.get(), const_cast<char*>(bytes.data()), bytes.size()) < 0)
    throw h5_error(name, "cannot hand its bytes to HDF5");
  Handle file(H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (file.get() < 0) throw h5_error(name, "is not a readable HDF5 file");
  return file;
}

Handle create_in_memory(const std::string& name) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (fapl.get() < 0 || H5Pset_fapl_core(fapl.get(), 1 << 20, false) < 0)
    throw h5_error(name, "cannot set up an HDF5 file in memory");
  Handle file(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
  if (file.get() < 0) throw h5_error(name, "cannot create an HDF5 file in memory");
  return file;
}

std::string image(hid_t file, const std::string& name) {
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) throw h5_error(name, "cannot flush the HDF5 file");
  const ssize_t size = H5Fget_file_image(file, nullptr, 0);
  if (size < 0) throw h5_error(name, "cannot read back the HDF5 file's bytes");
  std::string bytes(static_cast<size_t>(size), '\0');
  if (H5Fget_file_image(file, bytes.data(), bytes.size()) != size)
    throw h5_error(name, "cannot read back the HDF5 file's bytes");
  return bytes;
}

bool exists(hid_t loc, const std::string& path) {
  std::string prefix;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty()) return false;
    prefix = h5_join(prefix, part);
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (H5Oexists_by_name(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
  return false;
}

Handle open_group(hid_t loc, const std::string& path, const std::string& where) {
  if (path != "/" && !exists(loc, path)) throw h5_error(where, "has no group '" + path + "'");
  Handle group(H5Gopen2(loc, path.c_str(), H5P_DEFAULT), H5Gclose);
  if (group.get() < 0) throw h5_error(where, "'" + path + "' is not a group");
  return group;
}

Handle create_group(hid_t loc, const std::string& name, const std::string& where) {
  Handle group(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (group.get() < 0) throw h5_error(where, "cannot create group '" + name + "'");
  return group;
}

std::vector<std::string> member_names(hid_t group, const std::string& where) {
  H5G_info_t info;
  if (H5Gget_info(group, &info) < 0) throw h5_error(where, "cannot list the group's members");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t n = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0) throw h5_error(where, "cannot read a member's name");
    std::string name(static_cast<size_t>(n) + 1, '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<size_t>(n));
    names.push_back(std::move(name));
  }
  return names;
}

bool has_attribute(hid_t loc, const std::string& name) { return H5Aexists(loc, name.c_str()) > 0; }

std::vector<std::string> read_strings(hid_t loc, const std::string& name, const std::string& where) {
  const std::string what = where + " attribute '" + name + "'";
  Handle attr(H5Aopen(loc, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (attr.get() < 0) throw h5_error(where, "has no attribute '" + name + "'");
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (type.get() < 0 || space.get() < 0 || count < 0) throw h5_error(what, "cannot be read");
  if (count == 0) return {};
  if (H5Tget_class(type.get()) != H5T_STRING) throw h5_error(what, "is not a string or a list of strings");
  std::vector<std::string> strings;
  if (H5Tis_variable_str(type.get()) > 0) {
    std::vector<char*> pointers(static_cast<size_t>(count), nullptr);
    Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memory.get(), H5T_VARIABLE);
    H5Tset_cset(memory.get(), H5Tget_cset(type.get()));
    if (H5Aread(attr.get(), memory.get(), pointers.data()) < 0) throw h5_error(what, "cannot be read");
    for (char* p : pointers) strings.emplace_back(p ? p : "");
    H5Dvlen_reclaim(memory.get(), space.get(), H5P_DEFAULT, pointers.data());
    return strings;
  }
  const size_t size = H5Tget_size(type.get());
  if (size == 0 || static_cast<size_t>(count) > kMaxH5AttributeBytes / size) throw h5_error(what, "is implausibly large");
  std::vector<char> bytes(static_cast<size_t>(count) * size);
  if (H5Aread(attr.get(), type.get(), bytes.data()) < 0) throw h5_error(what, "cannot be read");
  for (hssize_t i = 0; i < count; ++i) {
    const char* begin = bytes.data() + static_cast<size_t>(i) * size;
    strings.emplace_back(begin, strnlen(begin, size));  // null-padded or null-terminated
  }
  return strings;
}

Shape dataset_shape(hid_t loc, const std::string& path, const std::string& where) {
  if (!exists(loc, path)) throw h5_error(where, "has no dataset '" + path + "'");
  Handle dataset(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), H5Dclose);
  if (dataset.get() < 0) throw h5_error(where, "'" + path + "' is not a dataset");
  Handle space(H5Dget_space(dataset.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 8) throw h5_error(where, "dataset '" + path + "' has an unreadable or implausible rank");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Shape shape;
  int64_t elements = 1;
  for (hsize_t d : dims) {
    if (d > static_cast<hsize_t>(kMaxH5Elements) || (d > 0 && elements > kMaxH5Elements / static_cast<int64_t>(d)))
      throw h5_error(where, "dataset '" + path + "' is implausibly large");
    elements *= static_cast<int64_t>(d);
    shape.push_back(static_cast<int64_t>(d));
  }
  return shape;
}

Tensor read_floats(hid_t loc, const std::string& path, const std::string& where) {
  const Shape shape = dataset_shape(loc, path, where);
  Handle dataset(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), H5Dclose);
  Handle type(H5Dget_type(dataset.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_FLOAT)
    throw h5_error(where, "dataset '" + path + "' does not hold floating-point numbers");
  // The shape is the file's claim: allocate for it only when the stored bytes can hold it (compressed datasets
  // shrink by far less than 1000 to 1; Keras stores them uncompressed).
  int64_t elements = 1;
  for (int64_t d : shape) elements *= d;
  const double stored = static_cast<double>(H5Dget_storage_size(dataset.get()));
  if (elements > (int64_t(1) << 18) && stored * 1100.0 < static_cast<double>(elements))
    throw h5_error(where, "dataset '" + path + "' claims " + std::to_string(elements) + " values but stores " +
                              std::to_string(static_cast<int64_t>(stored)) + " bytes; the file is damaged");
  Tensor tensor(shape, DType::F32);
  if (tensor.numel() > 0 &&
      H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.data<float>()) < 0)
    throw h5_error(where, "dataset '" + path + "' cannot be read");
  return tensor;
}

void write_floats(hid_t loc, const std::string& name, const Tensor& tensor, const std::string& where) {
  if (tensor.dtype() != DType::F32) throw std::invalid_argument(where + ": only float32 tensors are written");
  std::vector<hsize_t> dims(tensor.shape().begin(), tensor.shape().end());
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle dataset(H5Dcreate2(loc, name.c_str(), H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                 H5Dclose);
  if (space.get() < 0 || dataset.get() < 0) throw h5_error(where, "cannot create dataset '" + name + "'");
  if (tensor.numel() > 0 &&
      H5Dwrite(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.data<float>()) < 0)
    throw h5_error(where, "cannot write dataset '" + name + "'");
}

}  // namespace tg::interop::h5
