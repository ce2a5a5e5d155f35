#include "train/fit_state.h"

#include <algorithm>
#include <stdexcept>

#include "optim/json_number.h"

namespace tg::train {

void FitState::add_batch(double loss, int64_t batch_size, const Tensor& outputs, const Tensor& labels,
                         double binary_threshold) {
  loss_sum += loss * static_cast<double>(batch_size);
  samples += batch_size;
  confusion.add(outputs, labels, binary_threshold);
}

void FitState::add_counted_batch(double loss, int64_t batch_size, const ConfusionMatrix& batch_confusion) {
  loss_sum += loss * static_cast<double>(batch_size);
  samples += batch_size;
  confusion.merge(batch_confusion);
}

MetricLogs FitState::running_metrics() const {
  MetricLogs m;
  if (samples == 0) return m;
  m["loss"] = loss_sum / static_cast<double>(samples);
  m["pixel_accuracy"] = confusion.pixel_accuracy();
  m["mean_iou"] = confusion.mean_iou();
  return m;
}

MetricLogs FitState::epoch_metrics() const {
  MetricLogs m = confusion.metrics();
  m["loss"] = loss_sum / static_cast<double>(std::max<int64_t>(samples, 1));
  return m;
}

void FitState::reset_epoch_sums() {
  loss_sum = 0.0;
  samples = 0;
  confusion.reset();
}

nlohmann::json FitState::to_json(const nlohmann::json& extra) const {
  nlohmann::json history_json = nlohmann::json::array();
  for (const EpochRecord& r : history) history_json.push_back(r.to_json());
  nlohmann::json j = {
      {"format", "tapegrad.train"},
      {"version", 1},
      {"epoch", epoch},
      {"step", step},
      {"global_step", global_step},
      {"epoch_sums", {{"loss_sum", json_from_double(loss_sum)}, {"samples", samples}, {"confusion", confusion.to_json()}}},
      {"monitor", monitor.to_json()},
      {"early_stopping", stopping.to_json()},
      {"history", history_json}};
  for (auto& [key, value] : extra.items()) j[key] = value;
  return j;
}

FitState FitState::from_json(const nlohmann::json& j) {
  FitState s;
  try {
    if (j.value("format", "") != "tapegrad.train")
      throw std::runtime_error("the training state is not in tapegrad's format");
    s.epoch = j.at("epoch").get<int64_t>();
    s.step = j.at("step").get<int64_t>();
    s.global_step = j.at("global_step").get<int64_t>();
    const nlohmann::json& sums = j.at("epoch_sums");
    s.loss_sum = double_from_json(sums.at("loss_sum"));
    s.samples = sums.at("samples").get<int64_t>();
    if (s.epoch < 0 || s.step < 0 || s.global_step < s.step || s.samples < 0)
      throw std::runtime_error("the checkpoint's training state has an impossible position (epoch " +
                               std::to_string(s.epoch) + ", step " + std::to_string(s.step) + ", global step " +
                               std::to_string(s.global_step) + ", " + std::to_string(s.samples) + " samples)");
    // The class count sizes a matrix of its square: checked against the counts the file holds before it is built.
    const nlohmann::json& confusion = sums.at("confusion");
    const int64_t classes = confusion.at("num_classes").get<int64_t>();
    if (classes < 1 || classes > 65536 || !confusion.at("counts").is_array() ||
        static_cast<int64_t>(confusion.at("counts").size()) != classes * classes)
      throw std::runtime_error("the checkpoint's confusion matrix claims " + std::to_string(classes) +
                               " classes but holds " + std::to_string(confusion.at("counts").size()) + " counts");
    s.confusion = ConfusionMatrix::from_json(confusion);
    s.monitor = BestMetric::from_json(j.at("monitor"));
    s.stopping = EarlyStoppingState::from_json(j.at("early_stopping"));
    for (const nlohmann::json& r : j.at("history")) s.history.push_back(EpochRecord::from_json(r));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("the checkpoint's training state is incomplete: ") + e.what());
  }
  return s;
}

}  // namespace tg::train
