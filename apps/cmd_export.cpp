// tapegrad export: a trained model (or a freshly initialised zoo model) as an ONNX file, for ONNX Runtime and other
// ONNX engines.
#include <iostream>
#include <sstream>

#include "apps/commands.h"
#include "apps/model_options.h"
#include "interop/onnx_export.h"
#include "train/checkpoint.h"

namespace tg::app {

namespace {
// "input 'input_1' [batch, 256, 256, 1] (NHWC)" for each of the model's inputs (or outputs).
std::string describe(const char* what, const nlohmann::json& names, const std::vector<Shape>& shapes,
                     OnnxLayout layout) {
  std::ostringstream s;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const Shape& hwc = shapes[i];
    s << (i ? ", " : "") << what << " '" << names.at(i).get<std::string>() << "' ";
    if (layout == OnnxLayout::NHWC)
      s << "[batch, " << hwc[0] << ", " << hwc[1] << ", " << hwc[2] << "] (NHWC)";
    else
      s << "[batch, " << hwc[2] << ", " << hwc[0] << ", " << hwc[1] << "] (NCHW)";
  }
  return s.str();
}
}  // namespace

Command add_export_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Write a model's inference graph as an ONNX file");
  struct Options {
    std::string checkpoint, onnx;
    bool nchw = false;
    ModelOptions model;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--checkpoint", o->checkpoint,
                  "Checkpoint or weights file (e.g. RUN_DIR/checkpoints/best.safetensors); without it, the zoo model "
                  "the model flags describe, freshly initialised")
      ->check(CLI::ExistingFile);
  cmd->add_option("--onnx", o->onnx, "The ONNX file to write (replaced atomically if it exists)")->required();
  cmd->add_flag("--nchw", o->nchw,
                "Inputs and outputs NCHW (ONNX's convolution layout) instead of NHWC, the model's own");
  add_model_options(*cmd, o->model);
  return [o] {
    Model model = o->checkpoint.empty() ? build_model(o->model) : train::load_trained_model(o->checkpoint);
    const OnnxExportOptions options{.layout = o->nchw ? OnnxLayout::NCHW : OnnxLayout::NHWC};
    export_onnx(model, o->onnx, options);
    const nlohmann::json config = model.config();
    std::cout << "wrote " << o->onnx << ": ONNX opset " << kOnnxOpset << ", model '" << model.name() << "' ("
              << model.count_params() << " parameters), "
              << describe("input", config.at("inputs"), model.input_shapes(), options.layout) << " -> "
              << describe("output", config.at("outputs"), model.output_shapes(), options.layout) << "\n";
    return 0;
  };
}

}  // namespace tg::app
