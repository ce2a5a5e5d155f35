// A built-in dataset for users without data yet: ellipses, rectangles and triangles of several classes on a
// noisy, textured background. Sample i is a pure function of (seed, i), at any size and count.
#pragma once
#include "data/dataset.h"

namespace tg::data {

struct SyntheticOptions {
  size_t count = 64;
  int height = 128, width = 128;
  int channels = 1;     // 1 (grey) or 3 (RGB)
  int num_classes = 3;  // class 0 is the background; classes 1.. are shapes
  uint64_t seed = 0;
  int min_shapes = 1, max_shapes = 5;  // per image
  double noise = 0.05;                 // standard deviation of the per-pixel noise, on the [0, 1] scale
};

class SyntheticDataset : public Dataset {
 public:
  explicit SyntheticDataset(SyntheticOptions options);
  size_t size() const override { return options_.count; }
  const DatasetSpec& spec() const override { return spec_; }
  // `rng` is unused: the sample is fixed by (seed, index); augmentation is the loader's business.
  Sample get(size_t index, Rng* rng = nullptr) const override;
  std::string name(size_t index) const override;  // "00042"

 private:
  SyntheticOptions options_;
  DatasetSpec spec_;
};

}  // namespace tg::data
