#include <doctest/doctest.h>

#include "train/fit_options.h"

using namespace tg;
using namespace tg::train;

namespace {
// "fit" of a config.json as the version before the option structs were nested wrote it (FitOptions::to_json of
// tests/train/fit_test.cpp's SmallRun, by hand): it must still load, to the same settings, for --resume.
const char* kEarlierFitJson = R"({
  "augment": {"brightness": 0.05, "contrast": 0.0, "crop_scale": 1.0, "fill_mode": "nearest", "fill_value": 0.0,
              "height_shift": 0.0, "horizontal_flip": true, "mask_fill_value": 0.0, "rotate90": true,
              "rotation_deg": 0.0, "shear_deg": 0.0, "vertical_flip": false, "width_shift": 0.0, "zoom": 0.0},
  "batch_size": 8, "checkpoint_every": 0, "class_weights": [], "console": false, "early_stopping_min_delta": 0.0,
  "early_stopping_patience": 0, "epochs": 3, "handle_signals": true, "keep_last": 2, "loss": "auto", "mean": [],
  "monitor": "val_loss", "monitor_mode": "auto",
  "optimizer": {"global_clipnorm": 1.0, "learning_rate": 0.003, "name": "adamw",
                "schedule": {"decay_steps": 15, "name": "cosine", "warmup_steps": 3, "warmup_target": 0.005}},
  "progress": "off", "progress_interval_seconds": 10.0, "restore_best_weights": false, "resume": false,
  "run_dir": "/tmp/x", "seed": 42, "shuffle": true, "std": [], "steps_per_epoch": 0, "validation_batch_size": 0,
  "validation_steps": 0, "workers": 1})";
}  // namespace

TEST_CASE("fit options: a config.json of the earlier version loads to the same settings, keys and values") {
  const nlohmann::json earlier = nlohmann::json::parse(kEarlierFitJson);
  const FitOptions o = FitOptions::from_json(earlier);
  CHECK(o.batch_size == 8);
  CHECK(o.seed == 42);
  REQUIRE(o.augment.has_value());
  CHECK(o.augment->horizontal_flip);
  CHECK(o.augment->brightness == 0.05);
  CHECK(o.augment->fill_mode == data::FillMode::Nearest);
  CHECK(o.progress == ProgressMode::Off);
  CHECK(o.monitor_mode == MonitorMode::Auto);
  CHECK(o.run_dir == "/tmp/x");
  CHECK(o.handle_signals);
  const nlohmann::json now = o.to_json();
  for (const auto& [key, value] : earlier.items()) {
    CAPTURE(key);
    if (key == "augment") {  // its fields added since then join at their defaults
      for (const auto& [field, setting] : value.items()) CHECK(now.at(key).at(field) == setting);
      CHECK(now.at(key).at("elastic_sigma") == 0.0);
      continue;
    }
    CHECK(now.at(key) == value);
  }
  // The settings added since then, at their defaults.
  CHECK(now.at("validation_split") == 0.0);
  CHECK(now.at("drop_last") == false);
  CHECK(now.at("threads") == 0);
  CHECK(FitOptions::from_json(now).to_json() == now);
}

TEST_CASE("fit options: the loader's settings are FitOptions' own base, handed over as one struct") {
  FitOptions o;
  o.batch_size = 5;
  o.workers = 2;
  o.mean = {0.5f};
  const data::LoaderOptions& loader = o;
  CHECK(loader.batch_size == 5);
  CHECK(loader.workers == 2);
  CHECK(loader.mean == std::vector<float>{0.5f});
  // Defaults the command line relies on: no signal handlers from the library.
  CHECK_FALSE(FitOptions{}.handle_signals);
  CHECK(FitOptions{}.batch_size == data::LoaderOptions{}.batch_size);
}

TEST_CASE("fit options: unknown keys, enum names and types are errors naming them and what is accepted") {
  CHECK_THROWS_WITH_AS(FitOptions::from_json({{"epoch", 3}}),
                       doctest::Contains("FitOptions has no setting 'epoch'; it takes: augment, batch_size,"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(FitOptions::from_json({{"augment", {{"flip", true}}}}),
                       doctest::Contains("augment has no setting 'flip'; it takes: blur_sigma, brightness,"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(FitOptions::from_json({{"progress", "fast"}}),
                       doctest::Contains("progress must be one of auto, bar, lines, off; got \"fast\""),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(FitOptions::from_json({{"monitor_mode", "up"}}),
                       doctest::Contains("monitor_mode must be one of auto, min, max"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(FitOptions::from_json({{"augment", {{"fill_mode", "wrap"}}}}),
                       doctest::Contains("fill_mode must be one of nearest, reflect, constant"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(FitOptions::from_json({{"epochs", "three"}}), doctest::Contains("wrong type"),
                       std::invalid_argument);
  CHECK(FitOptions::from_json({{"augment", nullptr}}).augment == std::nullopt);
  CHECK(FitOptions::from_json({{"monitor_mode", "max"}}).monitor_mode == MonitorMode::Max);
}
