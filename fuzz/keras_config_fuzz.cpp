// A Keras model config (a Keras 2 .h5's model_config attribute, a .keras archive's config.json), as
// `tapegrad import-keras` reads it: the translation must refuse a bad one with a message naming the file, or give a
// tapegrad config that either builds a graph or is refused with tapegrad's own message. Weights are not allocated:
// the import checks the file's tensors against the graph's planned weights first.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_support.h"
#include "interop/keras_config.h"
#include "layers/layers.h"

using namespace tg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json keras;
  try {
    keras = nlohmann::json::parse(data, data + size);
  } catch (const nlohmann::json::exception&) {
    return 0;  // not JSON: import-keras refuses it while reading the file
  }
  for (int major : {2, 3}) {
    std::optional<interop::TranslatedModel> translated;
    if (!fuzz::accepts("model.h5", [&] { translated.emplace(interop::translate_keras_model(keras, "model.h5", major, {})); }))
      continue;
    std::optional<ModelGraph> graph;
    if (!fuzz::accepts("", [&] { graph.emplace(Model::graph_from_config(translated->config)); })) continue;
    if (translated->layers.empty()) fuzz::finding("a Keras config with no layers was accepted");
    (void)planned_weights(*graph);
  }
  return 0;
}
