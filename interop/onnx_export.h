// ONNX export of a Model's inference graph, for deployment in ONNX Runtime and other ONNX engines.
//
//   tg::Model model = tg::load_model("runs/membrane/checkpoints/best.safetensors");
//   tg::export_onnx(model, "membrane.onnx");                      // input and output NHWC, as the model has them
//   tg::export_onnx(model, "membrane_nchw.onnx", {.layout = tg::OnnxLayout::NCHW});
//
// The graph is the Keras-level layer graph (tapegrad's fused kernels are an implementation detail): Conv2D (with its
// 'same' padding resolved to explicit, possibly asymmetric pads), Conv2DTranspose, MaxPooling2D, AveragePooling2D,
// UpSampling2D (nearest or bilinear), Concatenate, Add, BatchNormalization (on its moving statistics), Activation
// and each layer's own activation (relu, sigmoid, tanh, softmax over the channels). Dropout is left out, as in
// inference. The file holds ONNX opset kOnnxOpset in float32 (a float64 model's weights are rounded), the batch axis
// left free; it passes ONNX's checker before it is written, atomically (temporary file, fsync, rename).
//
// The ONNX and protobuf headers stay inside the library: this header needs neither.
#pragma once
#include <filesystem>
#include <string>

#include "layers/model.h"

namespace tg {

// The ONNX operator set the export targets (ONNX 1.12, which every ONNX Runtime since 1.13 reads).
inline constexpr int kOnnxOpset = 17;

// The layout of the exported graph's inputs and outputs. Inside, the graph is NCHW (ONNX's convolution layout);
// NHWC adds a Transpose after each input and before each output, so the file takes what Model::predict takes.
enum class OnnxLayout { NHWC, NCHW };

struct OnnxExportOptions {
  OnnxLayout layout = OnnxLayout::NHWC;
};

// A layer or argument the export has no ONNX translation for: the message names the layer and its class.
class OnnxExportError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The model as a serialized, checked ONNX ModelProto. Throws OnnxExportError naming the first layer it cannot
// translate.
std::string onnx_model_bytes(const Model& model, const OnnxExportOptions& options = {});

// Writes onnx_model_bytes(model, options) to `path` atomically; I/O errors name the path.
void export_onnx(const Model& model, const std::filesystem::path& path, const OnnxExportOptions& options = {});

}  // namespace tg
