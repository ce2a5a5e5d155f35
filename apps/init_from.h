// `tapegrad train --init-from FILE`: training starts from the model in a tapegrad weights or checkpoint file (one
// that `tapegrad import-keras` wrote, say): its architecture and weights, instead of a freshly drawn zoo model.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "apps/model_options.h"
#include "layers/model.h"

namespace tg::app {

// The model in `path`. `model` takes its input shape and class count (what the data pipeline reads); flags of `cmd`
// that would choose another architecture (--model, --filters, --depth, --dropout, --batch-norm) or contradict the
// file's input or classes (--size, --channels, --classes) are refused, naming the flag and the file.
Model initial_model(const std::string& path, ModelOptions& model, const CLI::App& cmd);

}  // namespace tg::app
