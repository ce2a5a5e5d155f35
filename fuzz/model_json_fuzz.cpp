// A model's JSON config (what a weights file or checkpoint carries under "tapegrad.model" and a run's config.json
// under "model"): Model::from_config must refuse a bad one with a message, or build a model whose summary prints and
// whose config round-trips through from_config unchanged.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_support.h"
#include "layers/layers.h"

using namespace tg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(data, data + size);
  } catch (const nlohmann::json::exception&) {
    return 0;  // not JSON: the callers refuse it before Model::from_config (checked by the safetensors target)
  }
  std::optional<Model> model;
  if (!fuzz::accepts("", [&] { model.emplace(Model::from_config(config)); })) return 0;
  const std::string summary = model->summary();
  if (summary.empty()) fuzz::finding("a model built from a config has an empty summary");
  const nlohmann::json saved = model->config();
  std::optional<Model> again;
  if (!fuzz::accepts("", [&] { again.emplace(Model::from_config(saved)); }))
    fuzz::finding("a model's own config does not build again: " + saved.dump());
  if (again->config() != saved) fuzz::finding("a model's config does not round-trip: " + saved.dump());
  return 0;
}
