// Each Keras layer call as ONNX nodes. Inside the exported graph tensors are NCHW (ONNX's convolution layout); the
// model's shapes (H, W, C) give the sizes that 'same' padding and the transposed convolutions' crops depend on.
// Private to the library (interop/onnx_export.cpp).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "interop/onnx_graph.h"
#include "layers/layer.h"

namespace tg::onnx_export {

struct LayerCallView {
  const Layer& layer;
  nlohmann::json config;             // layer.config(): Keras's arguments
  std::vector<std::string> inputs;   // the NCHW tensors it reads
  std::vector<Shape> input_shapes;   // (H, W, C), batch axis left out, as the model has them
  Shape output_shape;
};

// Adds the nodes computing `call` into the tensor `out` and returns `out`, or returns the input's name for the
// layers inference skips (Dropout, a linear Activation). Throws OnnxExportError naming the layer for a class or an
// argument it has no translation for.
std::string translate_layer(GraphWriter& graph, const LayerCallView& call, const std::string& out);

// The layer classes translate_layer covers, for error messages and the README.
const std::vector<std::string>& exported_layer_classes();

}  // namespace tg::onnx_export
