// The model flags shared by train, summary and bench: which zoo model, its width, depth and input.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "layers/model.h"

namespace tg::app {

struct ModelOptions {
  std::string model = "unet";  // unet | autoencoder
  int filters = 0;  // 0 = the seed's width: 64 for unet, 32 for autoencoder
  int depth = 4;
  int size = 256;
  int channels = 1;
  int classes = 2;
  double dropout = 0.5;
  bool batch_norm = false;
  std::string input;  // "H,W,C" overrides size/channels
  uint64_t seed = 0;

  Shape input_shape() const;
  int resolved_filters() const { return filters > 0 ? filters : (model == "autoencoder" ? 32 : 64); }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ModelOptions, model, filters, depth, size, channels, classes, dropout,
                                                batch_norm, input, seed)

void add_model_options(CLI::App& cmd, ModelOptions& options);
ModelGraph model_graph(const ModelOptions& options);  // the model's graph, no weights allocated
// The model, refused (naming --filters) when its weights, gradients and optimizer state exceed the machine's memory.
Model build_model(const ModelOptions& options);

}  // namespace tg::app
