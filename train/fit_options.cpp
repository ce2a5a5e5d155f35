// FitOptions <-> JSON, for RUN_DIR/config.json and for checking that a resumed run uses the settings it began with.
#include <stdexcept>

#include "train/fit.h"

namespace tg::train {

namespace {
const char* fill_mode_name(data::FillMode m) {
  switch (m) {
    case data::FillMode::Nearest: return "nearest";
    case data::FillMode::Reflect: return "reflect";
    case data::FillMode::Constant: return "constant";
  }
  return "nearest";
}

data::FillMode fill_mode_from(const std::string& s) {
  if (s == "nearest") return data::FillMode::Nearest;
  if (s == "reflect") return data::FillMode::Reflect;
  if (s == "constant") return data::FillMode::Constant;
  throw std::invalid_argument("augment.fill_mode must be nearest, reflect or constant, got '" + s + "'");
}

nlohmann::json augment_to_json(const data::AugmentOptions& a) {
  return {{"horizontal_flip", a.horizontal_flip}, {"vertical_flip", a.vertical_flip},
          {"rotate90", a.rotate90},               {"crop_scale", a.crop_scale},
          {"brightness", a.brightness},           {"contrast", a.contrast},
          {"rotation_deg", a.rotation_deg},       {"width_shift", a.width_shift},
          {"height_shift", a.height_shift},       {"shear_deg", a.shear_deg},
          {"zoom", a.zoom},                       {"fill_mode", fill_mode_name(a.fill_mode)},
          {"fill_value", a.fill_value},           {"mask_fill_value", a.mask_fill_value}};
}

data::AugmentOptions augment_from_json(const nlohmann::json& j) {
  data::AugmentOptions a;
  for (auto& [key, value] : j.items()) {
    if (key == "horizontal_flip") a.horizontal_flip = value.get<bool>();
    else if (key == "vertical_flip") a.vertical_flip = value.get<bool>();
    else if (key == "rotate90") a.rotate90 = value.get<bool>();
    else if (key == "crop_scale") a.crop_scale = value.get<double>();
    else if (key == "brightness") a.brightness = value.get<double>();
    else if (key == "contrast") a.contrast = value.get<double>();
    else if (key == "rotation_deg") a.rotation_deg = value.get<double>();
    else if (key == "width_shift") a.width_shift = value.get<double>();
    else if (key == "height_shift") a.height_shift = value.get<double>();
    else if (key == "shear_deg") a.shear_deg = value.get<double>();
    else if (key == "zoom") a.zoom = value.get<double>();
    else if (key == "fill_mode") a.fill_mode = fill_mode_from(value.get<std::string>());
    else if (key == "fill_value") a.fill_value = value.get<float>();
    else if (key == "mask_fill_value") a.mask_fill_value = value.get<float>();
    else throw std::invalid_argument("augment has no setting '" + key + "'");
  }
  return a;
}

const char* progress_name(ProgressMode m) {
  switch (m) {
    case ProgressMode::Auto: return "auto";
    case ProgressMode::Bar: return "bar";
    case ProgressMode::Lines: return "lines";
    case ProgressMode::Off: return "off";
  }
  return "auto";
}

ProgressMode progress_from(const std::string& s) {
  if (s == "auto") return ProgressMode::Auto;
  if (s == "bar") return ProgressMode::Bar;
  if (s == "lines") return ProgressMode::Lines;
  if (s == "off") return ProgressMode::Off;
  throw std::invalid_argument("progress must be auto, bar, lines or off, got '" + s + "'");
}
}  // namespace

nlohmann::json FitOptions::to_json() const {
  return {{"epochs", epochs},
          {"batch_size", batch_size},
          {"steps_per_epoch", steps_per_epoch},
          {"validation_batch_size", validation_batch_size},
          {"validation_steps", validation_steps},
          {"shuffle", shuffle},
          {"augment", augment ? augment_to_json(*augment) : nlohmann::json(nullptr)},
          {"mean", mean},
          {"std", std},
          {"workers", workers},
          {"seed", seed},
          {"loss", loss},
          {"class_weights", class_weights},
          {"optimizer", optimizer},
          {"run_dir", run_dir.string()},
          {"resume", resume},
          {"monitor", monitor},
          {"monitor_mode", monitor_mode},
          {"keep_last", keep_last},
          {"checkpoint_every", checkpoint_every},
          {"early_stopping_patience", early_stopping_patience},
          {"early_stopping_min_delta", early_stopping_min_delta},
          {"restore_best_weights", restore_best_weights},
          {"progress", progress_name(progress)},
          {"progress_interval_seconds", progress_interval_seconds},
          {"console", console},
          {"handle_signals", handle_signals}};
}

FitOptions FitOptions::from_json(const nlohmann::json& j) {
  FitOptions o;
  const nlohmann::json defaults = o.to_json();
  try {
    for (auto& [key, value] : j.items())
      if (!defaults.contains(key)) throw std::invalid_argument("fit options have no setting '" + key + "'");
    o.epochs = j.value("epochs", o.epochs);
    o.batch_size = j.value("batch_size", o.batch_size);
    o.steps_per_epoch = j.value("steps_per_epoch", o.steps_per_epoch);
    o.validation_batch_size = j.value("validation_batch_size", o.validation_batch_size);
    o.validation_steps = j.value("validation_steps", o.validation_steps);
    o.shuffle = j.value("shuffle", o.shuffle);
    if (j.contains("augment") && !j.at("augment").is_null()) o.augment = augment_from_json(j.at("augment"));
    o.mean = j.value("mean", o.mean);
    o.std = j.value("std", o.std);
    o.workers = j.value("workers", o.workers);
    o.seed = j.value("seed", o.seed);
    o.loss = j.value("loss", o.loss);
    o.class_weights = j.value("class_weights", o.class_weights);
    if (j.contains("optimizer")) o.optimizer = j.at("optimizer");
    o.run_dir = j.value("run_dir", std::string());
    o.resume = j.value("resume", o.resume);
    o.monitor = j.value("monitor", o.monitor);
    o.monitor_mode = j.value("monitor_mode", o.monitor_mode);
    o.keep_last = j.value("keep_last", o.keep_last);
    o.checkpoint_every = j.value("checkpoint_every", o.checkpoint_every);
    o.early_stopping_patience = j.value("early_stopping_patience", o.early_stopping_patience);
    o.early_stopping_min_delta = j.value("early_stopping_min_delta", o.early_stopping_min_delta);
    o.restore_best_weights = j.value("restore_best_weights", o.restore_best_weights);
    o.progress = progress_from(j.value("progress", std::string("auto")));
    o.progress_interval_seconds = j.value("progress_interval_seconds", o.progress_interval_seconds);
    o.console = j.value("console", o.console);
    o.handle_signals = j.value("handle_signals", o.handle_signals);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("fit options: a setting has the wrong type: ") + e.what());
  }
  return o;
}

}  // namespace tg::train
