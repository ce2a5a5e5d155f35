#include "train/metrics.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace tg::train {

ConfusionMatrix::ConfusionMatrix(int num_classes, int ignore_index)
    : num_classes_(num_classes), ignore_index_(ignore_index), counts_(static_cast<size_t>(num_classes * num_classes)) {
  if (num_classes < 2)
    throw std::invalid_argument("ConfusionMatrix: needs at least 2 classes, got " + std::to_string(num_classes));
}

void ConfusionMatrix::add(const Tensor& outputs, const Tensor& labels, double binary_threshold) {
  const int64_t C = outputs.dim(-1);
  if (C != num_classes_ && !(C == 1 && num_classes_ == 2))
    throw std::invalid_argument("metrics: the output has " + std::to_string(C) + " channels but the metrics count " +
                                std::to_string(num_classes_) + " classes");
  const int64_t pixels = outputs.numel() / C;
  if (labels.numel() != pixels)
    throw std::invalid_argument("metrics: labels of shape " + shape_str(labels.shape()) +
                                " do not match the output of shape " + shape_str(outputs.shape()));
  const Tensor truth = labels.to(DType::F32);
  const float* y = truth.data<float>();
  const int K = num_classes_;
  // Per-thread matrices summed afterwards: integer counts, so the order does not matter.
  dispatch(outputs.dtype(), [&]<class T>() {
    const T* p = outputs.data<T>();
    int64_t bad = -1;
#pragma omp parallel
    {
      std::vector<int64_t> local(counts_.size(), 0);
#pragma omp for schedule(static) nowait
      for (int64_t i = 0; i < pixels; ++i) {
        const int label = static_cast<int>(y[i]);
        if (label == ignore_index_ && ignore_index_ >= 0) continue;
        if (label < 0 || label >= K || static_cast<float>(label) != y[i]) {
#pragma omp critical
          bad = bad < 0 ? i : std::min(bad, i);
          continue;
        }
        int predicted = 0;
        if (C == 1) {
          predicted = static_cast<double>(p[i]) > binary_threshold ? 1 : 0;
        } else {
          const T* row = p + i * C;
          for (int k = 1; k < K; ++k)
            if (row[k] > row[predicted]) predicted = k;  // ties go to the lower class, as argmax does
        }
        ++local[label * K + predicted];
      }
#pragma omp critical
      for (size_t j = 0; j < local.size(); ++j) counts_[j] += local[j];
    }
    if (bad >= 0)
      throw std::invalid_argument("metrics: label " + (std::ostringstream() << y[bad]).str() + " at pixel " + std::to_string(bad) +
                                  " is not a class id in [0, " + std::to_string(K) + ")" +
                                  (ignore_index_ >= 0 ? " nor the ignore index " + std::to_string(ignore_index_) : ""));
  });
}

int64_t ConfusionMatrix::total() const {
  int64_t n = 0;
  for (int64_t c : counts_) n += c;
  return n;
}

void ConfusionMatrix::reset() { std::fill(counts_.begin(), counts_.end(), 0); }

void ConfusionMatrix::merge(const ConfusionMatrix& other) {
  if (other.num_classes_ != num_classes_)
    throw std::invalid_argument("ConfusionMatrix::merge: " + std::to_string(other.num_classes_) +
                                " classes added to a matrix of " + std::to_string(num_classes_));
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
}

double ConfusionMatrix::pixel_accuracy() const {
  const int64_t n = total();
  int64_t correct = 0;
  for (int k = 0; k < num_classes_; ++k) correct += count(k, k);
  return n ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
}

namespace {
struct ClassCounts {
  int64_t tp = 0, fp = 0, fn = 0;
};
ClassCounts class_counts(const ConfusionMatrix& m, int k) {
  ClassCounts c;
  c.tp = m.count(k, k);
  for (int j = 0; j < m.num_classes(); ++j) {
    if (j == k) continue;
    c.fn += m.count(k, j);
    c.fp += m.count(j, k);
  }
  return c;
}
}  // namespace

bool ConfusionMatrix::present(int k) const {
  const ClassCounts c = class_counts(*this, k);
  return c.tp + c.fp + c.fn > 0;
}

double ConfusionMatrix::iou(int k) const {
  const ClassCounts c = class_counts(*this, k);
  const int64_t d = c.tp + c.fp + c.fn;
  return d ? static_cast<double>(c.tp) / static_cast<double>(d) : 1.0;
}

double ConfusionMatrix::dice(int k) const {
  const ClassCounts c = class_counts(*this, k);
  const int64_t d = 2 * c.tp + c.fp + c.fn;
  return d ? 2.0 * static_cast<double>(c.tp) / static_cast<double>(d) : 1.0;
}

double ConfusionMatrix::mean_iou() const {
  double sum = 0.0;
  int n = 0;
  for (int k = 0; k < num_classes_; ++k)
    if (present(k)) sum += iou(k), ++n;
  return n ? sum / n : 0.0;
}

double ConfusionMatrix::mean_dice() const {
  double sum = 0.0;
  int n = 0;
  for (int k = 0; k < num_classes_; ++k)
    if (present(k)) sum += dice(k), ++n;
  return n ? sum / n : 0.0;
}

MetricLogs ConfusionMatrix::metrics(const std::string& prefix) const {
  MetricLogs m;
  m[prefix + "pixel_accuracy"] = pixel_accuracy();
  m[prefix + "mean_iou"] = mean_iou();
  m[prefix + "mean_dice"] = mean_dice();
  for (int k = 0; k < num_classes_; ++k) {
    m[prefix + "iou_" + std::to_string(k)] = iou(k);
    m[prefix + "dice_" + std::to_string(k)] = dice(k);
  }
  return m;
}

nlohmann::json ConfusionMatrix::to_json() const {
  return {{"num_classes", num_classes_}, {"ignore_index", ignore_index_}, {"counts", counts_}};
}

ConfusionMatrix ConfusionMatrix::from_json(const nlohmann::json& j) {
  ConfusionMatrix m(j.at("num_classes").get<int>(), j.at("ignore_index").get<int>());
  const auto counts = j.at("counts").get<std::vector<int64_t>>();
  if (counts.size() != m.counts_.size())
    throw std::runtime_error("confusion matrix state has " + std::to_string(counts.size()) + " counts, expected " +
                             std::to_string(m.counts_.size()));
  m.counts_ = counts;
  return m;
}

std::vector<std::string> metric_names(int num_classes, bool with_validation) {
  std::vector<std::string> base = {"loss", "pixel_accuracy", "mean_iou", "mean_dice"};
  for (int k = 0; k < num_classes; ++k) {
    base.push_back("iou_" + std::to_string(k));
    base.push_back("dice_" + std::to_string(k));
  }
  std::vector<std::string> names = base;
  if (with_validation)
    for (const std::string& n : base) names.push_back("val_" + n);
  return names;
}

}  // namespace tg::train
