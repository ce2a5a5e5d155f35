// Small data and models shared by the tests of fit's units.
#pragma once
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "data/synthetic.h"
#include "layers/layers.h"
#include "layers/zoo.h"
#include "tests/temp_dir.h"
#include "train/fit_options.h"

namespace tg::train::testing {

using tg::testing::TempDir;

inline std::shared_ptr<data::SyntheticDataset> shapes(int size, size_t count, int classes = 2) {
  data::SyntheticOptions o;
  o.count = count;
  o.height = o.width = size;
  o.num_classes = classes;
  o.seed = 11;
  return std::make_shared<data::SyntheticDataset>(o);
}

inline std::vector<size_t> range(size_t begin, size_t end) {
  std::vector<size_t> v;
  for (size_t i = begin; i < end; ++i) v.push_back(i);
  return v;
}

// Dropout and BatchNormalization: every generator and every kind of state fit has to get right.
inline Model small_unet(uint64_t seed = 5) { return unet({16, 16, 1}, 2, 4, 2, /*dropout=*/0.3, /*batch_norm=*/true, seed); }

// One convolution straight into softmax: a NaN pixel reaches the loss (no relu on the way maps it to 0).
inline Model one_conv() {
  const SymbolicTensor x = Input({16, 16, 1});
  return Model(x, Conv2D(2, 3).padding("same").activation("softmax")(x), 1);
}

// The runs fit's tests compare: 3 epochs of batch 8 (5 steps each on 40 samples), seed 42, horizontal flips, AdamW
// at 3e-3, two checkpoints kept in run_dir, silent. Each test adds what it is about.
inline FitOptions quiet_run_options(const std::filesystem::path& run_dir) {
  FitOptions o;
  o.epochs = 3;
  o.batch_size = 8;
  o.seed = 42;
  o.augment = data::AugmentOptions{};
  o.augment->horizontal_flip = true;
  o.optimizer = {{"name", "adamw"}, {"learning_rate", 3e-3}};
  o.run_dir = run_dir;
  o.keep_last = 2;
  o.progress = ProgressMode::Off;
  o.console = false;
  return o;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.bytes(), b.bytes(), a.nbytes()) == 0;
}

inline bool same_weights(const Model& a, const Model& b) {
  const std::vector<Weight> wa = a.weights(), wb = b.weights();
  if (wa.size() != wb.size()) return false;
  for (size_t i = 0; i < wa.size(); ++i)
    if (wa[i].name != wb[i].name || !bit_equal(wa[i].variable.value(), wb[i].variable.value())) return false;
  return true;
}

}  // namespace tg::train::testing
