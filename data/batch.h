// A batch as the training step takes it.
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/tensor.h"

namespace tg::data {

struct Batch {
  Tensor images;               // [B, H, W, C] float32
  Tensor labels;               // [B, H, W] float32 class ids (sparse); ignored pixels hold the ignore index
  Tensor weights;              // [B, H, W] float32 per-pixel loss weights when the samples carry them, else undefined
  std::vector<size_t> indices; // dataset index of each sample
  int64_t epoch = 0, step = 0; // where in the loader's sequence this batch sits
  // A slice of a batch (LoaderOptions::slice_*): its first sample's place in the whole batch, and the whole batch's
  // size. A whole batch: 0 and size().
  int64_t first = 0, full_size = 0;
  int64_t size() const { return images.defined() ? images.dim(0) : 0; }
};

// [..., K] float32 one-hot of sparse labels [...]; ignored pixels get an all-zero row, so a one-hot loss gives
// them no gradient. Throws std::invalid_argument naming a label outside [0, K) that is not the ignore index.
Tensor one_hot(const Tensor& labels, int num_classes, int ignore_index = -1);

}  // namespace tg::data
