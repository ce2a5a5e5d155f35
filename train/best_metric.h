// The monitored metric's best value so far and its epoch, as Keras's ModelCheckpoint(save_best_only=True) keeps
// them: an epoch is the new best when it is strictly better. Decides which checkpoint is best.safetensors.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "optim/schedule.h"

namespace tg::train {

struct BestMetric {
  std::string name;      // "val_loss", "val_mean_iou", ...
  bool maximize = false;
  double best = 0.0;     // the worst value possible until an epoch improves on it
  int64_t best_epoch = 0;  // 1-based; 0 before any epoch

  BestMetric() = default;
  BestMetric(std::string name, MonitorMode mode);

  bool better(double value, double than) const { return maximize ? value > than : value < than; }
  // Records epoch `epoch`'s value; true when it is a new best.
  bool update(double value, int64_t epoch);

  nlohmann::json to_json() const;  // {"name", "maximize", "best", "best_epoch"}
  static BestMetric from_json(const nlohmann::json& j);
};

}  // namespace tg::train
