#include "train/metric_log.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include "autograd/io/safetensors.h"
#include "optim/json_number.h"

namespace tg::train {

nlohmann::json EpochRecord::to_json() const {
  nlohmann::json j = {{"epoch", epoch},
                      {"global_step", global_step},
                      {"learning_rate", learning_rate},
                      {"seconds", seconds}};
  for (const auto& [name, value] : metrics) j[name] = json_from_double(value);
  return j;
}

EpochRecord EpochRecord::from_json(const nlohmann::json& j) {
  EpochRecord r;
  for (auto& [key, value] : j.items()) {
    if (key == "epoch") r.epoch = value.get<int64_t>();
    else if (key == "global_step") r.global_step = value.get<int64_t>();
    else if (key == "learning_rate") r.learning_rate = value.get<double>();
    else if (key == "seconds") r.seconds = value.get<double>();
    else r.metrics[key] = double_from_json(value);
  }
  return r;
}

std::vector<std::string> ordered_metric_names(const MetricLogs& metrics) {
  std::vector<std::string> names;
  for (const auto& [name, value] : metrics) names.push_back(name);
  const auto rank = [](const std::string& n) {
    const bool val = n.rfind("val_", 0) == 0;
    const std::string base = val ? n.substr(4) : n;
    return std::make_tuple(val, base != "loss", base);
  };
  std::sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  return names;
}

std::string format_number(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, result.ptr);
}

MetricLog::MetricLog(std::filesystem::path csv, std::filesystem::path jsonl)
    : csv_(std::move(csv)), jsonl_(std::move(jsonl)) {}

std::string MetricLog::csv_row(const EpochRecord& r) const {
  std::string row = std::to_string(r.epoch) + "," + std::to_string(r.global_step) + "," +
                    format_number(r.learning_rate) + "," + format_number(r.seconds);
  for (const std::string& c : columns_) {
    row += ",";
    if (auto it = r.metrics.find(c); it != r.metrics.end()) row += format_number(it->second);
  }
  return row + "\n";
}

void MetricLog::rewrite(const std::vector<EpochRecord>& history) {
  columns_.clear();
  std::string csv, jsonl;
  if (!history.empty()) {
    columns_ = ordered_metric_names(history.front().metrics);
    csv = "epoch,global_step,learning_rate,seconds";
    for (const std::string& c : columns_) csv += "," + c;
    csv += "\n";
  }
  for (const EpochRecord& r : history) {
    csv += csv_row(r);
    jsonl += r.to_json().dump() + "\n";
  }
  write_file_atomically(csv_, csv);
  write_file_atomically(jsonl_, jsonl);
}

void MetricLog::append(const EpochRecord& record) {
  const auto write = [](const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot append to the metric log " + path.string());
  };
  std::string csv;
  if (columns_.empty()) {
    columns_ = ordered_metric_names(record.metrics);
    csv = "epoch,global_step,learning_rate,seconds";
    for (const std::string& c : columns_) csv += "," + c;
    csv += "\n";
  }
  csv += csv_row(record);
  write(csv_, csv);
  write(jsonl_, record.to_json().dump() + "\n");
}

}  // namespace tg::train
