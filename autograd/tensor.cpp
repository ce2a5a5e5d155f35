#include "autograd/tensor.h"

#include "autograd/allocator.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

namespace tg {

const char* dtype_name(DType d) { return d == DType::F32 ? "f32" : "f64"; }

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::string index_str(int64_t flat, const Shape& shape) {
  Shape idx(shape.size());
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    idx[i] = shape[i] ? flat % shape[i] : 0;
    flat = shape[i] ? flat / shape[i] : 0;
  }
  return shape_str(idx);
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw std::invalid_argument("negative dimension in shape " + shape_str(s));
    n *= d;
  }
  return n;
}

Tensor::Tensor(Shape shape, DType dtype, Uninitialised)
    : shape_(std::move(shape)), numel_(shape_numel(shape_)), dtype_(dtype) {
  storage_ = cached_storage(nbytes());
}

Tensor::Tensor(Shape shape, DType dtype) : Tensor(std::move(shape), dtype, Uninitialised{}) {
  if (numel_) std::memset(bytes(), 0, nbytes());
}

Tensor Tensor::empty(Shape shape, DType dtype) { return Tensor(std::move(shape), dtype, Uninitialised{}); }

Tensor Tensor::full(Shape shape, double value, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  t.fill(value);
  return t;
}

Tensor Tensor::from(std::initializer_list<double> values, Shape shape, DType dtype) {
  return from(std::span<const double>(values.begin(), values.size()), std::move(shape), dtype);
}

namespace {
template <class U>
Tensor tensor_from(std::span<const U> values, Shape shape, DType dtype) {
  Tensor t = Tensor::empty(std::move(shape), dtype);
  if (static_cast<int64_t>(values.size()) != t.numel())
    throw std::invalid_argument("Tensor::from: " + std::to_string(values.size()) + " values for shape " +
                                shape_str(t.shape()));
  dispatch(dtype, [&]<class T>() {
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<T>(values[i]);
  });
  return t;
}
}  // namespace

Tensor Tensor::from(std::span<const double> values, Shape shape, DType dtype) {
  return tensor_from(values, std::move(shape), dtype);
}

Tensor Tensor::from(std::span<const float> values, Shape shape, DType dtype) {
  return tensor_from(values, std::move(shape), dtype);
}

int64_t Tensor::dim(int axis) const {
  const int r = rank();
  const int a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r)
    throw std::out_of_range("axis " + std::to_string(axis) + " out of range for shape " + shape_str(shape_));
  return shape_[a];
}

void Tensor::check_dtype(DType want) const {
  if (!storage_) throw std::logic_error("use of an undefined (empty) tensor");
  if (want != dtype_)
    throw std::invalid_argument(std::string("tensor of dtype ") + dtype_name(dtype_) + " accessed as " +
                                dtype_name(want));
}

Tensor Tensor::reshape(Shape shape) const {
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw std::invalid_argument("reshape: more than one -1 in " + shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0 && known > 0 && numel_ % known == 0) shape[infer] = numel_ / known;
  if (shape_numel(shape) != numel_)
    throw std::invalid_argument("reshape: cannot view " + shape_str(shape_) + " (" + std::to_string(numel_) +
                                " elements) as " + shape_str(shape));
  Tensor v = *this;
  v.shape_ = std::move(shape);
  return v;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  if (rank() == 0 || begin < 0 || end > shape_[0] || begin > end)
    throw std::out_of_range("slice [" + std::to_string(begin) + ", " + std::to_string(end) + ") of shape " +
                            shape_str(shape_));
  const int64_t row = shape_[0] ? numel_ / shape_[0] : 0;
  Tensor v = *this;
  v.offset_ += static_cast<size_t>(begin * row) * element_size();
  v.shape_[0] = end - begin;
  v.numel_ = (end - begin) * row;
  return v;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_);
  if (numel_) std::memcpy(t.bytes(), bytes(), nbytes());
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor t = empty(shape_, dtype);
  t.copy_from(*this);
  return t;
}

void Tensor::fill(double value) {
  dispatch(dtype_, [&]<class T>() {
    for (T& x : span<T>()) x = static_cast<T>(value);
  });
}

void Tensor::copy_from(const Tensor& other) {
  if (other.numel() != numel_)
    throw std::invalid_argument("copy_from: " + shape_str(other.shape()) + " into " + shape_str(shape_));
  dispatch(dtype_, [&]<class T>() {
    dispatch(other.dtype(), [&]<class U>() {
      const U* src = other.data<U>();
      T* dst = data<T>();
      for (int64_t i = 0; i < numel_; ++i) dst[i] = static_cast<T>(src[i]);
    });
  });
}

double Tensor::flat(int64_t i) const {
  if (i < 0 || i >= numel_) throw std::out_of_range("flat index " + std::to_string(i) + " of " + shape_str(shape_));
  return dispatch(dtype_, [&]<class T>() { return static_cast<double>(data<T>()[i]); });
}

void Tensor::set_flat(int64_t i, double v) {
  if (i < 0 || i >= numel_) throw std::out_of_range("flat index " + std::to_string(i) + " of " + shape_str(shape_));
  dispatch(dtype_, [&]<class T>() { data<T>()[i] = static_cast<T>(v); });
}

double Tensor::item() const {
  if (numel_ != 1) throw std::invalid_argument("item() on a tensor of shape " + shape_str(shape_));
  return flat(0);
}

double Tensor::at(std::initializer_list<int64_t> index) const {
  if (static_cast<int>(index.size()) != rank())
    throw std::invalid_argument("at(): " + std::to_string(index.size()) + " indices for shape " + shape_str(shape_));
  int64_t flat_index = 0;
  int axis = 0;
  for (int64_t i : index) {
    if (i < 0 || i >= shape_[axis]) throw std::out_of_range("at(): index out of range for " + shape_str(shape_));
    flat_index = flat_index * shape_[axis++] + i;
  }
  return flat(flat_index);
}

std::vector<double> Tensor::to_vector() const {
  std::vector<double> v(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) v[i] = flat(i);
  return v;
}

std::string Tensor::str() const {
  if (!storage_) return "Tensor<undefined>";
  std::ostringstream os;
  os << "Tensor<" << dtype_name(dtype_) << ">" << shape_str(shape_) << " {";
  for (int64_t i = 0; i < std::min<int64_t>(numel_, 8); ++i) os << (i ? ", " : "") << flat(i);
  if (numel_ > 8) os << ", ...";
  os << "}";
  return os.str();
}

}  // namespace tg
