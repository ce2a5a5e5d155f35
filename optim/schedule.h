// Learning-rate schedules. As in Keras, a schedule is a function of the optimizer's iteration count (the number of
// updates already applied), evaluated before each update. ReduceLROnPlateau is the one schedule that also listens to
// the metrics at each epoch end. Every schedule can describe itself (config) and its mutable state, so a checkpoint
// restores it exactly and make_schedule(config) rebuilds it from config.json.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "optim/metric_logs.h"

namespace tg {

// Whether a monitored metric is better when smaller (Min) or larger (Max); Auto decides by its name
// (metric_is_maximized).
enum class MonitorMode { Auto, Min, Max };
NLOHMANN_JSON_SERIALIZE_ENUM(MonitorMode, {{MonitorMode::Auto, "auto"}, {MonitorMode::Min, "min"}, {MonitorMode::Max, "max"}})

class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  // The rate for the update that follows `step` completed updates.
  virtual double operator()(int64_t step) const = 0;
  // Epoch-end feedback; returns true when the rate changed (only adaptive schedules do anything here).
  virtual bool on_epoch_end(const MetricLogs& logs) {
    (void)logs;
    return false;
  }
  // The metric this schedule needs in the epoch-end logs ("" when none).
  virtual std::string monitor() const { return ""; }
  virtual nlohmann::json config() const = 0;  // {"name": ..., parameters}; make_schedule(config()) rebuilds it
  virtual nlohmann::json state() const { return nlohmann::json::object(); }
  virtual void load_state(const nlohmann::json& state) { (void)state; }
};

class ConstantLearningRate final : public LearningRateSchedule {
 public:
  explicit ConstantLearningRate(double learning_rate);
  double operator()(int64_t) const override { return learning_rate_; }
  nlohmann::json config() const override;

 private:
  double learning_rate_;
};

// initial * decay_rate ^ floor(step / decay_steps): Keras's ExponentialDecay with staircase=True.
class StepDecay final : public LearningRateSchedule {
 public:
  StepDecay(double initial_learning_rate, int64_t decay_steps, double decay_rate);
  double operator()(int64_t step) const override;
  nlohmann::json config() const override;

 private:
  double initial_, decay_rate_;
  int64_t decay_steps_;
};

// Keras's CosineDecay. Without a warm-up target: initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps)
// / decay_steps)) + alpha). With one: rises linearly from initial to warmup_target over warmup_steps, then decays
// from warmup_target the same way over decay_steps.
class CosineDecay final : public LearningRateSchedule {
 public:
  CosineDecay(double initial_learning_rate, int64_t decay_steps, double alpha = 0.0, int64_t warmup_steps = 0,
              std::optional<double> warmup_target = std::nullopt);
  double operator()(int64_t step) const override;
  nlohmann::json config() const override;

 private:
  double initial_, alpha_;
  int64_t decay_steps_, warmup_steps_;
  std::optional<double> warmup_target_;
};

// Keras's ReduceLROnPlateau callback as a schedule: when `monitor` has not improved by more than min_delta for
// `patience` epochs, the rate is multiplied by `factor` (not below min_lr), then `cooldown` epochs pass before
// counting again. mode Auto maximises metrics whose name contains "acc", "dice" or "iou" and minimises the rest.
struct PlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;
  int patience = 10;
  MonitorMode mode = MonitorMode::Auto;
  double min_delta = 1e-4;
  int cooldown = 0;
  double min_lr = 0.0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PlateauOptions, monitor, factor, patience, mode, min_delta, cooldown,
                                                min_lr)

class ReduceLROnPlateau final : public LearningRateSchedule {
 public:
  ReduceLROnPlateau(double initial_learning_rate, PlateauOptions options = {});
  double operator()(int64_t) const override { return learning_rate_; }
  bool on_epoch_end(const MetricLogs& logs) override;
  std::string monitor() const override { return options_.monitor; }
  nlohmann::json config() const override;
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& state) override;

 private:
  bool improved(double current) const;
  PlateauOptions options_;
  bool maximize_;
  double initial_, learning_rate_, best_;
  int wait_ = 0, cooldown_counter_ = 0;
};

// True when `monitor` is better when larger: Max, or under Auto (Keras's rule, extended to segmentation metrics) a
// name containing "acc", "dice" or "iou".
bool metric_is_maximized(const std::string& monitor, MonitorMode mode = MonitorMode::Auto);

// Rebuilds a schedule from its config(). "initial_learning_rate" may be left out, and then defaults to
// `default_learning_rate` (the optimizer's). Throws naming the unknown schedule or the bad field.
std::unique_ptr<LearningRateSchedule> make_schedule(const nlohmann::json& config, double default_learning_rate);

}  // namespace tg
