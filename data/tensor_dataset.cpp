#include "data/tensor_dataset.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace tg::data {

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("TensorDataset: " + what); }

// "sample 3, pixel (x=5, y=2)" for flat index i of an [N, H, W] map.
std::string where(int64_t i, int64_t h, int64_t w) {
  const int64_t n = i / (h * w), y = i / w % h, x = i % w;
  return "sample " + std::to_string(n) + ", pixel (x=" + std::to_string(x) + ", y=" + std::to_string(y) + ")";
}

}  // namespace

TensorDataset::TensorDataset(const Tensor& images, const Tensor& labels, TensorDatasetOptions options) {
  if (!images.defined() || images.rank() != 4)
    fail("images must be [N, H, W, C], got " + (images.defined() ? shape_str(images.shape()) : "an empty Tensor"));
  const int64_t n = images.dim(0), h = images.dim(1), w = images.dim(2), c = images.dim(3);
  if (n == 0 || h == 0 || w == 0 || c == 0) fail("images " + shape_str(images.shape()) + " hold no pixels");
  const Shape want = {n, h, w}, want_channel = {n, h, w, 1};
  if (!labels.defined() || (labels.shape() != want && labels.shape() != want_channel))
    fail("labels must be [N, H, W] = " + shape_str(want) + " to match images " + shape_str(images.shape()) +
         ", got " + (labels.defined() ? shape_str(labels.shape()) : "an empty Tensor"));
  if (options.ignore_index < -1) fail("ignore_index must be -1 (none) or a class id >= 0");

  images_ = images.to(DType::F32).clone();
  labels_ = labels.to(DType::F32).clone().reshape(want);
  const float* px = images_.data<float>();
  for (int64_t i = 0; i < images_.numel(); ++i)
    if (!std::isfinite(px[i]))
      fail("images hold " + std::to_string(px[i]) + " at " + where(i / c, h, w) + ", channel " +
           std::to_string(i % c) + "; every pixel must be finite");

  const float* ids = labels_.data<float>();
  int64_t largest = 0;
  for (int64_t i = 0; i < labels_.numel(); ++i) {
    const float id = ids[i];
    if (!(id >= 0) || id != std::floor(id))
      fail("labels hold " + std::to_string(id) + " at " + where(i, h, w) + "; labels are whole class ids >= 0");
    if (static_cast<int64_t>(id) != options.ignore_index) largest = std::max(largest, static_cast<int64_t>(id));
  }
  const int num_classes = options.num_classes > 0 ? options.num_classes : static_cast<int>(std::max<int64_t>(largest + 1, 2));
  if (num_classes < 2) fail("num_classes must be at least 2, got " + std::to_string(num_classes));
  if (options.ignore_index >= 0 && options.ignore_index < num_classes)
    fail("the ignore index " + std::to_string(options.ignore_index) + " is one of the classes [0, " +
         std::to_string(num_classes) + "); choose a value >= num_classes, e.g. 255");
  if (largest >= num_classes) {
    for (int64_t i = 0; i < labels_.numel(); ++i)
      if (static_cast<int64_t>(ids[i]) >= num_classes && static_cast<int64_t>(ids[i]) != options.ignore_index)
        fail("labels hold class " + std::to_string(static_cast<int64_t>(ids[i])) + " at " + where(i, h, w) +
             ", outside the " + std::to_string(num_classes) + " classes [0, " + std::to_string(num_classes) +
             ")" +
             (options.ignore_index >= 0 ? " and not the ignore index " + std::to_string(options.ignore_index) : "") +
             "; raise TensorDatasetOptions::num_classes or set ignore_index");
  }
  spec_ = {static_cast<int>(h), static_cast<int>(w), static_cast<int>(c), num_classes, options.ignore_index};
}

Sample TensorDataset::get(size_t index, Rng* /*rng*/) const {
  if (index >= size())
    throw std::out_of_range("TensorDataset: sample " + std::to_string(index) + " of " + std::to_string(size()));
  const auto i = static_cast<int64_t>(index);
  return {images_.slice(i, i + 1).reshape({spec_.height, spec_.width, spec_.channels}).clone(),
          labels_.slice(i, i + 1).reshape({spec_.height, spec_.width}).clone()};
}

std::string TensorDataset::name(size_t index) const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%05zu", index);
  return buf;
}

}  // namespace tg::data
