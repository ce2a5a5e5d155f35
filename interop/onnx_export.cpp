#include "interop/onnx_export.h"

#include <onnx/checker.h>

#include <climits>
#include <map>
#include <set>

#include "autograd/io/safetensors.h"
#include "interop/onnx_graph.h"
#include "interop/onnx_layers.h"

namespace tg {

namespace {

using onnx_export::Dim;
using onnx_export::GraphWriter;
using onnx_export::set_attribute;

const std::vector<int64_t> kToNCHW = {0, 3, 1, 2}, kToNHWC = {0, 2, 3, 1};

// An image tensor's dims in the file's layout, the batch axis free.
std::vector<Dim> io_dims(const Shape& hwc, OnnxLayout layout) {
  const Dim batch{-1, "batch"};
  if (layout == OnnxLayout::NHWC) return {batch, {hwc[0], ""}, {hwc[1], ""}, {hwc[2], ""}};
  return {batch, {hwc[2], ""}, {hwc[0], ""}, {hwc[1], ""}};
}

void check_image_shape(const Layer& layer, const Shape& shape) {
  if (shape.size() != 3)
    throw OnnxExportError("ONNX export: layer '" + layer.name() + "' (" + layer.class_name() + ") has output shape " +
                          keras_shape(shape) + "; the export covers image tensors (batch, height, width, channels)");
}

// The graph: each input transposed to NCHW (NHWC layout), every layer call in the model's order, each output
// transposed back. Tensors inside are named after the layer that computes them.
void write_graph(const Model& model, const OnnxExportOptions& options, onnx::GraphProto& proto) {
  GraphWriter graph(proto);
  const bool nhwc = options.layout == OnnxLayout::NHWC;
  const nlohmann::json config = model.config();
  std::set<std::string> outputs;
  for (const nlohmann::json& name : config.at("outputs")) outputs.insert(name.get<std::string>());

  std::map<std::string, std::string> tensor;  // layer name -> the NCHW tensor holding its output
  std::map<std::string, Shape> shape;         // layer name -> its output shape (H, W, C)
  for (const nlohmann::json& entry : config.at("layers")) {
    const std::string name = entry.at("name").get<std::string>();
    const Layer& layer = model.layer(name);
    onnx_export::LayerCallView call{layer, entry.at("config"), {}, {}, {}};
    for (const nlohmann::json& in : entry.at("inbound")) {
      call.inputs.push_back(tensor.at(in.get<std::string>()));
      call.input_shapes.push_back(shape.at(in.get<std::string>()));
    }
    call.output_shape = layer.output_shape(call.input_shapes);
    check_image_shape(layer, call.output_shape);
    shape[name] = call.output_shape;
    if (call.inputs.empty()) {  // an Input layer
      graph.input(name, io_dims(call.output_shape, options.layout));
      tensor[name] = nhwc ? name + "/nchw" : name;
      if (nhwc) set_attribute(graph.node("Transpose", {name}, {tensor[name]}), "perm", kToNCHW);
      continue;
    }
    // An output layer's own name is the graph output's; in NHWC its NCHW result gets another.
    const std::string out = nhwc && outputs.count(name) ? name + "/nchw" : name;
    tensor[name] = onnx_export::translate_layer(graph, call, out);
  }
  for (const std::string& name : outputs) {
    const std::string& result = tensor.at(name);
    if (nhwc)
      set_attribute(graph.node("Transpose", {result}, {name}), "perm", kToNHWC);
    else if (result != name)  // a layer inference skips (Dropout) ends the model
      graph.node("Identity", {result}, {name});
    graph.output(name, io_dims(shape.at(name), options.layout));
  }
}

}  // namespace

std::string onnx_model_bytes(const Model& model, const OnnxExportOptions& options) {
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.set_producer_name("tapegrad");
  proto.set_producer_version(TAPEGRAD_VERSION);
  onnx::OperatorSetIdProto& opset = *proto.add_opset_import();
  opset.set_domain("");
  opset.set_version(kOnnxOpset);
  const char* layout = options.layout == OnnxLayout::NHWC ? "NHWC" : "NCHW";
  proto.set_doc_string("tapegrad model '" + model.name() + "', inference graph; inputs and outputs " + layout);
  onnx::StringStringEntryProto& layout_entry = *proto.add_metadata_props();
  layout_entry.set_key("tapegrad.layout");
  layout_entry.set_value(layout);

  onnx::GraphProto& graph = *proto.mutable_graph();
  graph.set_name(model.name());
  write_graph(model, options, graph);

  try {
    onnx::checker::check_model(proto);
  } catch (const std::exception& e) {  // the exporter wrote something ONNX does not accept: our bug, not the user's
    throw std::logic_error("ONNX export of model '" + model.name() + "' fails ONNX's checker: " + e.what());
  }
  if (proto.ByteSizeLong() > static_cast<size_t>(INT_MAX))
    throw OnnxExportError("ONNX export: model '" + model.name() + "' has " + std::to_string(model.count_params()) +
                          " parameters, over the 2 GB protobuf limit of one ONNX file");
  std::string bytes;
  if (!proto.SerializeToString(&bytes))
    throw std::runtime_error("ONNX export of model '" + model.name() + "': protobuf could not serialize the model");
  return bytes;
}

void export_onnx(const Model& model, const std::filesystem::path& path, const OnnxExportOptions& options) {
  write_file_atomically(path, onnx_model_bytes(model, options));
}

}  // namespace tg
