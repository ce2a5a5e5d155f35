// The few HDF5 operations Keras files need, over Debian's HDF5 C API, with handles closed by RAII and errors thrown
// as std::runtime_error naming the file and the object. Private to interop/: public headers never include hdf5.h.
#pragma once
#include <hdf5.h>

#include <filesystem>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace tg::interop::h5 {

// An HDF5 identifier and the function that closes it.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = -1; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();
  hid_t get() const { return id_; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// HDF5 prints its error stack to stderr by default; the errors we throw say what went wrong instead. Turns the
// printing off for its lifetime (HDF5's error settings are global, so only one thread should use HDF5 at a time).
class QuietErrors {
 public:
  QuietErrors();
  ~QuietErrors();
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

bool is_hdf5(const std::filesystem::path& path);
Handle open_file(const std::filesystem::path& path);
// A read-only file from bytes in memory (a .keras archive's model.weights.h5); `name` is what errors call it.
Handle open_image(const std::string& bytes, const std::string& name);
// A new, empty file in memory; image() returns its bytes once written.
Handle create_in_memory(const std::string& name);
std::string image(hid_t file, const std::string& name);

// Whether `path` (relative to `loc`, "a/b/c") names an object, checking each part so that a missing parent is "no".
bool exists(hid_t loc, const std::string& path);
Handle open_group(hid_t loc, const std::string& path, const std::string& where);
Handle create_group(hid_t loc, const std::string& name, const std::string& where);
// The names of a group's members, in the order HDF5 lists them (by name).
std::vector<std::string> member_names(hid_t group, const std::string& where);

bool has_attribute(hid_t loc, const std::string& name);
// A string attribute as Keras and h5py write them: a scalar or an array of fixed- or variable-length strings (one
// entry for a scalar); an empty array of any type (h5py's np.asarray([])) gives no strings.
std::vector<std::string> read_strings(hid_t loc, const std::string& name, const std::string& where);

// The shape of a dataset, without reading it.
Shape dataset_shape(hid_t loc, const std::string& path, const std::string& where);
// A floating-point dataset as float32 (HDF5 converts float16 and float64); `where` names it in errors.
Tensor read_floats(hid_t loc, const std::string& path, const std::string& where);
void write_floats(hid_t loc, const std::string& name, const Tensor& tensor, const std::string& where);

}  // namespace tg::interop::h5
