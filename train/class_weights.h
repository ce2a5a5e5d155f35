// Class weights from a training set's label frequencies, for unbalanced segmentation data (a thin membrane class,
// a rare lesion): median frequency balancing (Eigen and Fergus, 2015).
#pragma once
#include <vector>

#include "train/data_source.h"

namespace tg::train {

// Per class c: freq(c) = pixels of class c / pixels of the samples in which c appears; weight(c) =
// median over the classes that appear of freq / freq(c). Void pixels (the spec's ignore_index) count nowhere; a class
// that appears in no sample gets weight 1. Reads every sample of `source` once (no augmentation).
std::vector<double> median_frequency_weights(const DataSource& source);

}  // namespace tg::train
