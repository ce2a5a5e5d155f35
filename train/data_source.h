// Some samples of a dataset: what fit trains and validates on and evaluate scores.
#pragma once
#include <memory>
#include <vector>

#include "data/dataset.h"
#include "data/split.h"

namespace tg::train {

struct DataSource {
  std::shared_ptr<const data::Dataset> dataset;
  std::vector<size_t> indices;  // empty: every sample

  // The dataset indices, in order (all of them when `indices` is empty).
  std::vector<size_t> sample_indices() const { return indices.empty() ? data::all_indices(dataset->size()) : indices; }
  size_t size() const { return indices.empty() ? dataset->size() : indices.size(); }
};

}  // namespace tg::train
