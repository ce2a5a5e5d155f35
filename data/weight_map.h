// The U-Net paper's pixel weight map (Ronneberger, Fischer and Brox 2015, equation 2), which makes the network
// learn the thin background gaps that separate touching objects (cell membranes between cells):
//   w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))^2 / (2 sigma^2))
// w_c is the class weight of x's label (1 without class weights). Objects are the 4-connected regions of pixels
// whose class is neither the border class nor void; d1 and d2 are the Euclidean distances (between pixel centres)
// from x to the nearest pixel of the nearest and of the second-nearest object. The border term is added on pixels
// of the border class only: those are the gaps the paper's figure weights (inside an object d1 = 0 would weight the
// object's own rim as well). Void pixels get weight 0; they carry no loss anyway.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "data/dataset.h"

namespace tg::data {

struct BorderWeightOptions {
  double w0 = 10.0;    // the paper's value
  double sigma = 5.0;  // pixels at the resolution the network sees (the paper: about 5 at 512x512)
  int border_class = 0;  // the class between objects (the membrane set's class 0)
  void validate() const;  // throws std::invalid_argument naming the field out of range
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(BorderWeightOptions, w0, sigma, border_class)

// Objects farther than this from a pixel add less than w0 * 1e-6 to its weight (exp(-r^2 / 2 sigma^2) = 1e-6):
// each object's distances are computed in its bounding box widened by this radius only, and a term smaller than
// that is left out.
double border_weight_radius(double sigma);

// The weight map [H, W] float32 of a label map [H, W] (class ids; ignore_index marks void, -1 = none).
// class_weights: w_c per class id (empty = all 1); a label outside it has w_c = 1.
Tensor border_weight_map(const Tensor& labels, const BorderWeightOptions& options,
                         std::span<const double> class_weights = {}, int ignore_index = -1);

// A dataset whose samples carry the weight map of their labels (Sample::weights). Maps are computed once per sample
// and kept while the sample's labels stay the same (a random crop on reading gives new labels, and a new map), up
// to `cache_bytes` of maps in all; beyond that the other samples' maps are computed each time they are read.
// Thread-safe, as Dataset::get must be.
class WeightMapDataset : public Dataset {
 public:
  static constexpr int64_t kDefaultCacheBytes = int64_t(1) << 30;
  WeightMapDataset(std::shared_ptr<const Dataset> inner, BorderWeightOptions options,
                   std::vector<double> class_weights = {}, int64_t cache_bytes = kDefaultCacheBytes);
  size_t size() const override { return inner_->size(); }
  const DatasetSpec& spec() const override { return inner_->spec(); }
  Sample get(size_t index, Rng* rng = nullptr) const override;
  std::string name(size_t index) const override { return inner_->name(index); }
  int64_t maps_computed() const;  // how many maps were computed (not served from the cache)

 private:
  struct Cached {
    uint64_t labels_hash;
    Tensor weights;
  };
  std::shared_ptr<const Dataset> inner_;
  BorderWeightOptions options_;
  std::vector<double> class_weights_;
  mutable std::mutex mu_;
  int64_t cache_limit_;
  mutable std::map<size_t, Cached> cache_;
  mutable int64_t cached_bytes_ = 0, computed_ = 0;
};

}  // namespace tg::data
