// RUN_DIR/config.json: what a run is, written by fit when it starts (and again when it resumes):
//   {"tapegrad_version", "fit": FitOptions::to_json(), "model": Model::config(), "threads", "data": {sizes},
//    ...FitOptions::extra_config}.
#pragma once
#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "layers/model.h"
#include "train/fit_options.h"
#include "train/run_dir.h"

namespace tg::train {

void write_run_config(const RunDir& run, const FitOptions& options, const Model& model, int threads,
                      size_t train_samples, size_t validation_samples, const data::DatasetSpec& spec);

// RUN_DIR/config.json as fit wrote it; throws naming the file when it is missing or not JSON.
nlohmann::json read_run_config(const std::filesystem::path& run_dir);

}  // namespace tg::train
