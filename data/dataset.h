// What the training loop reads: a Dataset of (image, label map) samples, all of one size.
#pragma once
#include <cstddef>
#include <string>

#include "autograd/random/rng.h"
#include "autograd/tensor.h"

namespace tg::data {

struct Sample {
  Tensor image;   // [H, W, C] float32 in [0, 1]
  Tensor labels;  // [H, W] float32 class ids; ignored pixels hold the ignore index
  Tensor weights = {};  // [H, W] float32 per-pixel loss weights (data/weight_map.h), or undefined: every pixel 1
};

struct DatasetSpec {
  int height = 0, width = 0, channels = 0;
  int num_classes = 2;
  int ignore_index = -1;  // -1 = none
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual size_t size() const = 0;
  virtual const DatasetSpec& spec() const = 0;
  // Sample `index` at the spec's size. `rng` (training only) drives randomness that belongs to reading, such
  // as a random crop to the input size; nullptr gives the deterministic (validation) version. Must be safe
  // to call from several threads at once.
  virtual Sample get(size_t index, Rng* rng = nullptr) const = 0;
  // A file stem or other stable name, for messages and for write_dataset.
  virtual std::string name(size_t index) const = 0;
};

}  // namespace tg::data
