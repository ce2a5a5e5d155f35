// A dataset over tensors already in memory: images [N, H, W, C] and their label maps [N, H, W] of class ids. It
// goes through the same DataLoader (shuffling, augmentation, prefetching) and train::fit as folder datasets do.
//
//   auto train = std::make_shared<tg::data::TensorDataset>(images, labels);   // num_classes: max id + 1
//   tg::train::fit(model, {train}, nullptr, options);
#pragma once
#include "data/dataset.h"

namespace tg::data {

struct TensorDatasetOptions {
  int num_classes = 0;    // 0: the largest class id in the labels + 1 (at least 2)
  int ignore_index = -1;  // -1 = none; otherwise pixels with this id carry no loss and count in no metric
};

class TensorDataset : public Dataset {
 public:
  // images [N, H, W, C] float32 or float64 (kept as float32), finite; labels [N, H, W] (or [N, H, W, 1]) holding
  // whole class ids in [0, num_classes), or the ignore index. The tensors are copied once, so the caller may reuse
  // them. Throws std::invalid_argument naming the tensor, the sample and the pixel at fault.
  TensorDataset(const Tensor& images, const Tensor& labels, TensorDatasetOptions options = {});

  size_t size() const override { return static_cast<size_t>(images_.dim(0)); }
  const DatasetSpec& spec() const override { return spec_; }
  // A fresh copy of sample `index` (the loader augments it in place); `rng` is unused.
  Sample get(size_t index, Rng* rng = nullptr) const override;
  std::string name(size_t index) const override;  // "00042"

 private:
  Tensor images_, labels_;  // float32 [N, H, W, C] and [N, H, W]
  DatasetSpec spec_;
};

}  // namespace tg::data
