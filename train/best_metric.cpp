#include "train/best_metric.h"

#include <limits>

#include "optim/json_number.h"

namespace tg::train {

BestMetric::BestMetric(std::string metric, MonitorMode mode)
    : name(std::move(metric)),
      maximize(metric_is_maximized(name, mode)),
      best(maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity()) {}

bool BestMetric::update(double value, int64_t epoch) {
  if (!better(value, best)) return false;
  best = value;
  best_epoch = epoch;
  return true;
}

nlohmann::json BestMetric::to_json() const {
  return {{"name", name}, {"maximize", maximize}, {"best", json_from_double(best)}, {"best_epoch", best_epoch}};
}

BestMetric BestMetric::from_json(const nlohmann::json& j) {
  BestMetric m;
  m.name = j.at("name").get<std::string>();
  m.maximize = j.at("maximize").get<bool>();
  m.best = double_from_json(j.at("best"));
  m.best_epoch = j.at("best_epoch").get<int64_t>();
  return m;
}

}  // namespace tg::train
