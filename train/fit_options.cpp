// FitOptions <-> JSON through nlohmann's macros. The loader's settings sit at the top level beside fit's own, as
// config.json has always had them, so files written by earlier versions still load.
#include "train/fit_options.h"

#include "optim/json_options.h"

namespace tg::train {

NLOHMANN_JSON_SERIALIZE_ENUM(ProgressMode, {{ProgressMode::Auto, "auto"},
                                            {ProgressMode::Bar, "bar"},
                                            {ProgressMode::Lines, "lines"},
                                            {ProgressMode::Off, "off"}})
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FitOptions,
                                                // data::LoaderOptions
                                                batch_size, shuffle, drop_last, seed, workers, prefetch, augment, mean,
                                                std,
                                                // fit's own
                                                epochs, steps_per_epoch, validation_split, validation_batch_size,
                                                validation_steps, loss, class_weights, border_weights, optimizer, run_dir, resume, overwrite,
                                                monitor, monitor_mode, keep_last, checkpoint_every,
                                                early_stopping_patience, early_stopping_min_delta,
                                                restore_best_weights, report_title, class_names, report_samples, threads, progress,
                                                progress_interval_seconds, console, profile_steps, handle_signals,
                                                gradient_shards, sync_batch_norm)

nlohmann::json FitOptions::to_json() const { return *this; }

FitOptions FitOptions::from_json(const nlohmann::json& j) {
  const FitOptions defaults;
  check_known_keys(j, defaults.to_json(), "FitOptions");
  if (j.contains("augment") && !j.at("augment").is_null())
    check_known_keys(j.at("augment"), nlohmann::json(data::AugmentOptions{}), "FitOptions' augment");
  if (j.contains("border_weights") && !j.at("border_weights").is_null())
    check_known_keys(j.at("border_weights"), nlohmann::json(data::BorderWeightOptions{}), "FitOptions' border_weights");
  FitOptions o = settings_from_json<FitOptions>(j, "FitOptions");
  // The macros map an unknown name to an enum's first value; refuse it instead.
  if (j.contains("progress")) enum_from_json<ProgressMode>(j.at("progress"), "FitOptions' progress");
  if (j.contains("monitor_mode")) enum_from_json<MonitorMode>(j.at("monitor_mode"), "FitOptions' monitor_mode");
  if (o.augment && j.at("augment").contains("fill_mode"))
    enum_from_json<data::FillMode>(j.at("augment").at("fill_mode"), "FitOptions' augment.fill_mode");
  if (o.border_weights) o.border_weights->validate();
  return o;
}

}  // namespace tg::train
