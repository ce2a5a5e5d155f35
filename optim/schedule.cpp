#include "optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "optim/json_number.h"
#include "optim/json_options.h"

namespace tg {

namespace {
std::invalid_argument bad(const std::string& schedule, const std::string& what) {
  return std::invalid_argument("learning-rate schedule '" + schedule + "': " + what);
}

enum class ScheduleKind { Constant, StepDecay, Cosine, ReduceOnPlateau };
NLOHMANN_JSON_SERIALIZE_ENUM(ScheduleKind, {{ScheduleKind::Constant, "constant"},
                                            {ScheduleKind::StepDecay, "step_decay"},
                                            {ScheduleKind::Cosine, "cosine"},
                                            {ScheduleKind::ReduceOnPlateau, "reduce_on_plateau"}})
}  // namespace

ConstantLearningRate::ConstantLearningRate(double learning_rate) : learning_rate_(learning_rate) {
  if (!(learning_rate >= 0.0)) throw bad("constant", "learning_rate must be >= 0, got " + std::to_string(learning_rate));
}

nlohmann::json ConstantLearningRate::config() const {
  return {{"name", "constant"}, {"initial_learning_rate", learning_rate_}};
}

StepDecay::StepDecay(double initial_learning_rate, int64_t decay_steps, double decay_rate)
    : initial_(initial_learning_rate), decay_rate_(decay_rate), decay_steps_(decay_steps) {
  if (decay_steps <= 0) throw bad("step_decay", "decay_steps must be positive, got " + std::to_string(decay_steps));
  if (!(decay_rate > 0.0)) throw bad("step_decay", "decay_rate must be positive, got " + std::to_string(decay_rate));
}

double StepDecay::operator()(int64_t step) const {
  return initial_ * std::pow(decay_rate_, static_cast<double>(step / decay_steps_));
}

nlohmann::json StepDecay::config() const {
  return {{"name", "step_decay"},
          {"initial_learning_rate", initial_},
          {"decay_steps", decay_steps_},
          {"decay_rate", decay_rate_}};
}

CosineDecay::CosineDecay(double initial_learning_rate, int64_t decay_steps, double alpha, int64_t warmup_steps,
                         std::optional<double> warmup_target)
    : initial_(initial_learning_rate),
      alpha_(alpha),
      decay_steps_(decay_steps),
      warmup_steps_(warmup_steps),
      warmup_target_(warmup_target) {
  if (decay_steps <= 0) throw bad("cosine", "decay_steps must be positive, got " + std::to_string(decay_steps));
  if (warmup_steps < 0) throw bad("cosine", "warmup_steps must be >= 0, got " + std::to_string(warmup_steps));
  if (warmup_steps > 0 && !warmup_target)
    throw bad("cosine", "warmup_steps needs a warmup_target (the rate reached at the end of the warm-up)");
}

double CosineDecay::operator()(int64_t step) const {
  const auto decay = [&](double s, double from) {
    const double cosine = 0.5 * (1.0 + std::cos(M_PI * (s / static_cast<double>(decay_steps_))));
    return from * ((1.0 - alpha_) * cosine + alpha_);
  };
  double s = static_cast<double>(step);
  if (!warmup_target_) return decay(std::min(s, static_cast<double>(decay_steps_)), initial_);
  s = std::min(s, static_cast<double>(decay_steps_ + warmup_steps_));
  if (s < static_cast<double>(warmup_steps_))
    return (*warmup_target_ - initial_) * (s / static_cast<double>(warmup_steps_)) + initial_;
  return decay(s - static_cast<double>(warmup_steps_), *warmup_target_);
}

nlohmann::json CosineDecay::config() const {
  return {{"name", "cosine"},
          {"initial_learning_rate", initial_},
          {"decay_steps", decay_steps_},
          {"alpha", alpha_},
          {"warmup_steps", warmup_steps_},
          {"warmup_target", warmup_target_ ? nlohmann::json(*warmup_target_) : nlohmann::json(nullptr)}};
}

bool metric_is_maximized(const std::string& monitor, MonitorMode mode) {
  if (mode == MonitorMode::Max) return true;
  if (mode == MonitorMode::Min) return false;
  for (const char* word : {"acc", "dice", "iou"})
    if (monitor.find(word) != std::string::npos) return true;
  return false;
}

ReduceLROnPlateau::ReduceLROnPlateau(double initial_learning_rate, PlateauOptions options)
    : options_(std::move(options)),
      maximize_(metric_is_maximized(options_.monitor, options_.mode)),
      initial_(initial_learning_rate),
      learning_rate_(initial_learning_rate),
      best_(maximize_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity()) {
  if (!(options_.factor < 1.0 && options_.factor > 0.0))
    throw bad("reduce_on_plateau", "factor must be in (0, 1), got " + std::to_string(options_.factor));
  if (options_.patience < 0) throw bad("reduce_on_plateau", "patience must be >= 0");
  if (options_.cooldown < 0) throw bad("reduce_on_plateau", "cooldown must be >= 0");
}

bool ReduceLROnPlateau::improved(double current) const {
  return maximize_ ? current > best_ + options_.min_delta : current < best_ - options_.min_delta;
}

// Follows keras.callbacks.ReduceLROnPlateau.on_epoch_end step by step.
bool ReduceLROnPlateau::on_epoch_end(const MetricLogs& logs) {
  const auto it = logs.find(options_.monitor);
  if (it == logs.end()) {
    std::string names;
    for (const auto& [name, value] : logs) names += (names.empty() ? "" : ", ") + name;
    throw std::runtime_error("ReduceLROnPlateau monitors '" + options_.monitor +
                             "', which is not among this epoch's metrics (" + names +
                             "); choose one of those (validation metrics need validation data)");
  }
  const double current = it->second;
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    wait_ = 0;
  }
  if (improved(current)) {
    best_ = current;
    wait_ = 0;
  } else if (cooldown_counter_ == 0) {  // re-read after the decrement, as Keras does
    ++wait_;
    if (wait_ >= options_.patience && learning_rate_ > options_.min_lr) {
      learning_rate_ = std::max(learning_rate_ * options_.factor, options_.min_lr);
      cooldown_counter_ = options_.cooldown;
      wait_ = 0;
      return true;
    }
  }
  return false;
}

nlohmann::json ReduceLROnPlateau::config() const {
  nlohmann::json c = options_;
  c["name"] = "reduce_on_plateau";
  c["initial_learning_rate"] = initial_;
  return c;
}

nlohmann::json ReduceLROnPlateau::state() const {
  return {{"learning_rate", learning_rate_},
          {"best", json_from_double(best_)},
          {"wait", wait_},
          {"cooldown_counter", cooldown_counter_}};
}

void ReduceLROnPlateau::load_state(const nlohmann::json& state) {
  try {
    learning_rate_ = state.at("learning_rate").get<double>();
    best_ = double_from_json(state.at("best"));
    wait_ = state.at("wait").get<int>();
    cooldown_counter_ = state.at("cooldown_counter").get<int>();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("ReduceLROnPlateau state is incomplete or malformed: ") + e.what());
  }
}

std::unique_ptr<LearningRateSchedule> make_schedule(const nlohmann::json& config, double default_learning_rate) {
  if (!config.is_object()) throw std::invalid_argument("a learning-rate schedule must be a JSON object, got " + config.dump());
  const nlohmann::json name = config.value("name", nlohmann::json("constant"));
  if (!name.is_string() || nlohmann::json(name.get<ScheduleKind>()) != name)
    throw std::invalid_argument("unknown learning-rate schedule " + name.dump() + "; use " +
                                join_names(enum_names<ScheduleKind>()));
  const ScheduleKind kind = name.get<ScheduleKind>();
  const std::string owner = "learning-rate schedule " + name.dump();
  std::unique_ptr<LearningRateSchedule> schedule;
  try {
    const double initial = config.value("initial_learning_rate", default_learning_rate);
    switch (kind) {
      case ScheduleKind::Constant:
        schedule = std::make_unique<ConstantLearningRate>(initial);
        break;
      case ScheduleKind::StepDecay:
        schedule = std::make_unique<StepDecay>(initial, config.at("decay_steps").get<int64_t>(),
                                               config.value("decay_rate", 0.5));
        break;
      case ScheduleKind::Cosine: {
        std::optional<double> target;
        if (config.contains("warmup_target") && !config.at("warmup_target").is_null())
          target = config.at("warmup_target").get<double>();
        schedule = std::make_unique<CosineDecay>(initial, config.at("decay_steps").get<int64_t>(),
                                                 config.value("alpha", 0.0), config.value("warmup_steps", int64_t{0}),
                                                 target);
        break;
      }
      case ScheduleKind::ReduceOnPlateau: {
        PlateauOptions options = settings_from_json<PlateauOptions>(config, owner);
        if (config.contains("mode")) options.mode = enum_from_json<MonitorMode>(config.at("mode"), owner + ": mode");
        schedule = std::make_unique<ReduceLROnPlateau>(initial, options);
        break;
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw bad(name.get<std::string>(), std::string("bad or missing field: ") + e.what());
  }
  check_known_keys(config, schedule->config(), owner);  // config() names every setting the schedule has
  return schedule;
}

}  // namespace tg
