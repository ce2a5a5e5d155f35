#include "train/run_config.h"

#include <fstream>
#include <stdexcept>

#include "autograd/io/safetensors.h"

namespace tg::train {

void write_run_config(const RunDir& run, const FitOptions& options, const Model& model, int threads,
                      size_t train_samples, size_t validation_samples, const data::DatasetSpec& spec) {
  nlohmann::json config = {{"tapegrad_version", TAPEGRAD_VERSION},
                           {"fit", options.to_json()},
                           {"model", model.config()},
                           {"threads", threads},
                           {"data",
                            {{"train_samples", train_samples},
                             {"validation_samples", validation_samples},
                             {"height", spec.height},
                             {"width", spec.width},
                             {"channels", spec.channels},
                             {"num_classes", spec.num_classes},
                             {"ignore_index", spec.ignore_index}}}};
  for (const auto& [key, value] : options.extra_config.items()) config[key] = value;
  write_file_atomically(run.config(), config.dump(2) + "\n");
}

nlohmann::json read_run_config(const std::filesystem::path& run_dir) {
  const RunDir run(run_dir);
  std::ifstream in(run.config());
  if (!in)
    throw std::runtime_error(run.config().string() + " is missing; is " + run_dir.string() +
                             " a tapegrad run folder (made by fit)?");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(run.config().string() + ": not valid JSON: " + e.what());
  }
}

}  // namespace tg::train
