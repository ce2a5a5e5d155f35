#include "train/class_weights.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tg::train {

std::vector<double> median_frequency_weights(const DataSource& source) {
  const data::DatasetSpec& spec = source.dataset->spec();
  const int classes = spec.num_classes;
  std::vector<double> class_pixels(size_t(classes), 0.0), pixels_where_present(size_t(classes), 0.0);
  for (size_t index : source.sample_indices()) {
    const data::Sample sample = source.dataset->get(index);
    std::vector<double> counts(size_t(classes), 0.0);
    double labelled = 0;
    for (float v : sample.labels.span<float>()) {
      const long label = std::lround(v);
      if (label == spec.ignore_index) continue;
      if (label < 0 || label >= classes)
        throw std::invalid_argument("median_frequency_weights: sample '" + source.dataset->name(index) +
                                    "' has label " + std::to_string(label) + " outside [0, " + std::to_string(classes) +
                                    ")");
      counts[size_t(label)] += 1;
      labelled += 1;
    }
    for (int c = 0; c < classes; ++c)
      if (counts[size_t(c)] > 0) {
        class_pixels[size_t(c)] += counts[size_t(c)];
        pixels_where_present[size_t(c)] += labelled;
      }
  }
  std::vector<double> frequency(size_t(classes), 0.0), present;
  for (int c = 0; c < classes; ++c)
    if (class_pixels[size_t(c)] > 0) {
      frequency[size_t(c)] = class_pixels[size_t(c)] / pixels_where_present[size_t(c)];
      present.push_back(frequency[size_t(c)]);
    }
  if (present.empty()) throw std::invalid_argument("median_frequency_weights: the samples hold no labelled pixel");
  std::sort(present.begin(), present.end());
  const size_t n = present.size();
  const double median = n % 2 ? present[n / 2] : (present[n / 2 - 1] + present[n / 2]) / 2;
  std::vector<double> weights(size_t(classes), 1.0);
  for (int c = 0; c < classes; ++c)
    if (frequency[size_t(c)] > 0) weights[size_t(c)] = median / frequency[size_t(c)];
  return weights;
}

}  // namespace tg::train
