// An N-d, contiguous, row-major array of float32 (training) or float64 (gradient checks).
// Images are NHWC and convolution kernels HWIO, as in Keras. Storage is 64-byte aligned and shared:
// reshape() and batch slices are views without copies. It comes from the caching allocator
// (autograd/allocator.h): Tensor(shape) and zeros() are zero-filled; empty() is not, for outputs that are
// written in full.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace tg {

enum class DType { F32, F64 };
const char* dtype_name(DType d);
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "[2, 256, 256, 1]"
std::string index_str(int64_t flat, const Shape& shape);  // element `flat` of a row-major `shape`: "[0, 3, 1]"
int64_t shape_numel(const Shape& s);

// Calls f.template operator()<T>() with T = float or double: one templated implementation, two dtypes.
template <class F> decltype(auto) dispatch(DType d, F&& f) {
  if (d == DType::F32) return f.template operator()<float>();
  return f.template operator()<double>();
}

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, DType dtype = DType::F32);  // zero-filled

  static Tensor zeros(Shape shape, DType dtype = DType::F32) { return Tensor(std::move(shape), dtype); }
  // Uninitialised storage (whatever a previous tensor left there): only for a result every element of which is
  // written before it is read. Saves the zero-filling pass over memory.
  static Tensor empty(Shape shape, DType dtype = DType::F32);
  static Tensor full(Shape shape, double value, DType dtype = DType::F32);
  static Tensor ones(Shape shape, DType dtype = DType::F32) { return full(std::move(shape), 1.0, dtype); }
  static Tensor from(std::initializer_list<double> values, Shape shape, DType dtype = DType::F32);
  static Tensor from(std::span<const double> values, Shape shape, DType dtype = DType::F32);
  static Tensor from(std::span<const float> values, Shape shape, DType dtype = DType::F32);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const;  // negative axes count from the end
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * element_size(); }
  size_t element_size() const { return dtype_ == DType::F32 ? 4 : 8; }

  template <class T> T* data() {
    check_dtype(dtype_of<T>());
    return reinterpret_cast<T*>(bytes());
  }
  template <class T> const T* data() const {
    check_dtype(dtype_of<T>());
    return reinterpret_cast<const T*>(bytes());
  }
  template <class T> std::span<T> span() { return {data<T>(), static_cast<size_t>(numel_)}; }
  template <class T> std::span<const T> span() const { return {data<T>(), static_cast<size_t>(numel_)}; }
  std::byte* bytes() { return storage_.get() + offset_; }
  const std::byte* bytes() const { return storage_.get() + offset_; }

  // Views sharing this tensor's storage.
  Tensor reshape(Shape shape) const;                   // one -1 allowed
  Tensor slice(int64_t begin, int64_t end) const;      // rows [begin, end) of the first axis

  Tensor clone() const;
  Tensor to(DType dtype) const;  // converted copy (or a shared view when already that dtype)
  void fill(double value);
  void copy_from(const Tensor& other);  // same numel, any dtype

  double item() const;                                 // the single element, as double
  double at(std::initializer_list<int64_t> index) const;  // element by multi-index, as double
  double flat(int64_t i) const;                        // element i, as double
  void set_flat(int64_t i, double v);
  std::vector<double> to_vector() const;

  std::string str() const;  // "Tensor<f32>[2, 3]" followed by up to 8 values
  bool shares_storage(const Tensor& other) const { return storage_ == other.storage_; }

 private:
  struct Uninitialised {};
  Tensor(Shape shape, DType dtype, Uninitialised);
  void check_dtype(DType want) const;
  std::shared_ptr<std::byte[]> storage_;
  size_t offset_ = 0;  // bytes into storage_
  Shape shape_;
  int64_t numel_ = 0;
  DType dtype_ = DType::F32;
};

// Bytes currently held by all tensors' storage, rounded to the allocator's size classes (for tests that a
// training step does not leak). The allocator's other counters are in autograd/allocator.h.
size_t live_tensor_bytes();

}  // namespace tg
