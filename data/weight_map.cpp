#include "data/weight_map.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace tg::data {
namespace {

// "No object within reach" in the distance transforms: finite, so that differences of two such values stay exact.
constexpr double kFar = 1e12;

// Felzenszwalb and Huttenlocher's exact 1-D squared distance transform: d[q] = min_p (q - p)^2 + f[p], in O(n) as
// the lower envelope of the parabolas rooted at each p. v and z are scratch of n and n + 1 entries.
void squared_distance_1d(const double* f, int n, double* d, int* v, double* z) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  int k = 0;
  v[0] = 0;
  z[0] = -inf;
  z[1] = inf;
  for (int q = 1; q < n; ++q) {
    double s;
    for (;;) {  // drop the parabolas the new one hides; z[0] = -inf ends the loop at k = 0
      const int p = v[k];
      s = ((f[q] + double(q) * q) - (f[p] + double(p) * p)) / (2.0 * (q - p));
      if (s > z[k]) break;
      --k;
    }
    ++k;
    v[k] = q;
    z[k] = s;
    z[k + 1] = inf;
  }
  k = 0;
  for (int q = 0; q < n; ++q) {
    while (z[k + 1] < q) ++k;
    const double dq = q - v[k];
    d[q] = dq * dq + f[v[k]];
  }
}

struct Box {
  int y0, y1, x0, x1;  // inclusive
};

// 4-connected components of the object pixels; component ids from 0 in scan order, -1 elsewhere.
std::vector<Box> label_objects(const std::vector<uint8_t>& is_object, int H, int W, std::vector<int>& id) {
  std::vector<Box> boxes;
  id.assign(static_cast<size_t>(H) * W, -1);
  std::vector<int> stack;
  for (int start = 0; start < H * W; ++start) {
    if (!is_object[start] || id[start] >= 0) continue;
    const int c = static_cast<int>(boxes.size());
    Box box{start / W, start / W, start % W, start % W};
    id[start] = c;
    stack.push_back(start);
    while (!stack.empty()) {
      const int p = stack.back();
      stack.pop_back();
      const int y = p / W, x = p % W;
      box.y0 = std::min(box.y0, y), box.y1 = std::max(box.y1, y);
      box.x0 = std::min(box.x0, x), box.x1 = std::max(box.x1, x);
      const int next[4] = {x > 0 ? p - 1 : -1, x + 1 < W ? p + 1 : -1, y > 0 ? p - W : -1, y + 1 < H ? p + W : -1};
      for (int q : next)
        if (q >= 0 && is_object[q] && id[q] < 0) {
          id[q] = c;
          stack.push_back(q);
        }
    }
    boxes.push_back(box);
  }
  return boxes;
}

uint64_t hash_of(const Tensor& t) {  // FNV-1a over the bytes
  uint64_t h = 1469598103934665603ull;
  const auto* p = static_cast<const unsigned char*>(static_cast<const void*>(t.data<float>()));
  for (int64_t i = 0; i < t.numel() * int64_t(sizeof(float)); ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace

void BorderWeightOptions::validate() const {
  if (!(w0 >= 0.0 && w0 <= 1e6)) throw std::invalid_argument("border weights: w0 must be in [0, 1e6], got " + std::to_string(w0));
  if (!(sigma > 0.0 && sigma <= 1000.0))
    throw std::invalid_argument("border weights: sigma must be in (0, 1000] pixels, got " + std::to_string(sigma));
  if (border_class < 0 || border_class > 255)
    throw std::invalid_argument("border weights: border_class must be a class id in [0, 255], got " +
                                std::to_string(border_class));
}

double border_weight_radius(double sigma) { return sigma * std::sqrt(2.0 * std::log(1e6)); }

Tensor border_weight_map(const Tensor& labels, const BorderWeightOptions& o, std::span<const double> class_weights,
                         int ignore_index) {
  o.validate();
  if (labels.rank() != 2 || labels.dtype() != DType::F32)
    throw std::invalid_argument("border_weight_map: labels must be a float32 [H, W] map of class ids, got " +
                                shape_str(labels.shape()));
  const int H = static_cast<int>(labels.dim(0)), W = static_cast<int>(labels.dim(1));
  const float* lab = labels.data<float>();
  Tensor weights = Tensor::empty({H, W});
  float* w = weights.data<float>();
  std::vector<uint8_t> is_object(static_cast<size_t>(H) * W), in_gap(static_cast<size_t>(H) * W);
  for (int64_t i = 0; i < int64_t(H) * W; ++i) {
    const int c = static_cast<int>(lab[i]);
    const bool is_void = ignore_index >= 0 && c == ignore_index;
    in_gap[i] = !is_void && c == o.border_class;
    is_object[i] = !is_void && c != o.border_class;
    w[i] = is_void ? 0.0f
           : c >= 0 && static_cast<size_t>(c) < class_weights.size() ? static_cast<float>(class_weights[c])
                                                                     : 1.0f;
  }
  if (o.w0 == 0.0) return weights;

  std::vector<int> id;
  const std::vector<Box> boxes = label_objects(is_object, H, W, id);
  const double radius = border_weight_radius(o.sigma);
  const int r = static_cast<int>(std::ceil(radius));
  const double reach = radius * radius;
  // The squared distances of each gap pixel to its nearest and second-nearest object.
  std::vector<double> first(static_cast<size_t>(H) * W, kFar), second(static_cast<size_t>(H) * W, kFar);
  const int longest = std::max(H, W);
  std::vector<double> f(longest), d(longest), z(longest + 1), column((static_cast<size_t>(H) * W));
  std::vector<int> v(longest);
  for (size_t c = 0; c < boxes.size(); ++c) {
    const Box& b = boxes[c];
    const int y0 = std::max(0, b.y0 - r), y1 = std::min(H - 1, b.y1 + r);
    const int x0 = std::max(0, b.x0 - r), x1 = std::min(W - 1, b.x1 + r);
    const int h = y1 - y0 + 1, wd = x1 - x0 + 1;
    // Columns first (distance along y to this object's pixels in the same column), then rows.
    for (int x = x0; x <= x1; ++x) {
      for (int y = y0; y <= y1; ++y) f[y - y0] = id[static_cast<size_t>(y) * W + x] == static_cast<int>(c) ? 0.0 : kFar;
      squared_distance_1d(f.data(), h, d.data(), v.data(), z.data());
      for (int y = 0; y < h; ++y) column[static_cast<size_t>(y) * wd + (x - x0)] = std::min(d[y], kFar);
    }
    for (int y = y0; y <= y1; ++y) {
      squared_distance_1d(column.data() + static_cast<size_t>(y - y0) * wd, wd, d.data(), v.data(), z.data());
      for (int x = x0; x <= x1; ++x) {
        const size_t i = static_cast<size_t>(y) * W + x;
        const double dist = d[x - x0];
        if (!in_gap[i] || dist > reach) continue;
        if (dist < first[i]) {
          second[i] = first[i];
          first[i] = dist;
        } else if (dist < second[i]) {
          second[i] = dist;
        }
      }
    }
  }
  const double two_sigma2 = 2.0 * o.sigma * o.sigma;
  for (size_t i = 0; i < first.size(); ++i) {
    if (!in_gap[i] || second[i] >= kFar) continue;  // fewer than two objects within reach: the term is below 1e-6 w0
    const double sum = std::sqrt(first[i]) + std::sqrt(second[i]);
    w[i] += static_cast<float>(o.w0 * std::exp(-sum * sum / two_sigma2));
  }
  return weights;
}

WeightMapDataset::WeightMapDataset(std::shared_ptr<const Dataset> inner, BorderWeightOptions options,
                                   std::vector<double> class_weights, int64_t cache_bytes)
    : inner_(std::move(inner)), options_(options), class_weights_(std::move(class_weights)), cache_limit_(cache_bytes) {
  if (!inner_) throw std::invalid_argument("WeightMapDataset: no dataset given");
  options_.validate();
  if (options_.border_class >= inner_->spec().num_classes)
    throw std::invalid_argument("border weights: border_class " + std::to_string(options_.border_class) +
                                " is not a class of the data, which has " + std::to_string(inner_->spec().num_classes));
}

Sample WeightMapDataset::get(size_t index, Rng* rng) const {
  Sample s = inner_->get(index, rng);
  const uint64_t h = hash_of(s.labels);
  {
    std::lock_guard lock(mu_);
    const auto it = cache_.find(index);
    if (it != cache_.end() && it->second.labels_hash == h) {
      s.weights = it->second.weights.clone();  // augment flips in place: the cache keeps its own copy
      return s;
    }
  }
  // Computed outside the lock, so that loader threads do not wait on each other; two threads racing on one index
  // compute the same map.
  Tensor weights = border_weight_map(s.labels, options_, class_weights_, inner_->spec().ignore_index);
  std::lock_guard lock(mu_);
  ++computed_;
  const int64_t bytes = weights.numel() * int64_t(sizeof(float));
  if (const auto it = cache_.find(index); it != cache_.end()) {  // new labels for this sample: replace its map
    it->second = Cached{h, weights.clone()};
  } else if (cached_bytes_ + bytes <= cache_limit_) {
    cache_.emplace(index, Cached{h, weights.clone()});
    cached_bytes_ += bytes;
  }
  s.weights = std::move(weights);
  return s;
}

int64_t WeightMapDataset::maps_computed() const {
  std::lock_guard lock(mu_);
  return computed_;
}

}  // namespace tg::data
