// Writing an ONNX graph with Debian's libonnx protobuf classes: nodes with their attributes, float32 initializers,
// typed inputs and outputs. Private to the library (it includes the ONNX headers; interop/onnx_export.h does not).
#pragma once
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tg::onnx_export {

// The dims of a graph input or output: a fixed size, or a named free one (the batch axis).
struct Dim {
  int64_t size = -1;
  std::string param;  // used when size < 0
};

class GraphWriter {
 public:
  explicit GraphWriter(onnx::GraphProto& graph) : graph_(graph) {}

  // Appends a node named after its first output (tensor names are unique, so node names are too) and returns it,
  // for the attribute setters below.
  onnx::NodeProto& node(const std::string& op_type, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs);
  void initializer(const std::string& name, const std::vector<int64_t>& dims, std::span<const float> values);
  void input(const std::string& name, const std::vector<Dim>& dims);
  void output(const std::string& name, const std::vector<Dim>& dims);

 private:
  onnx::GraphProto& graph_;
};

void set_attribute(onnx::NodeProto& node, const std::string& name, int64_t value);
void set_attribute(onnx::NodeProto& node, const std::string& name, float value);
void set_attribute(onnx::NodeProto& node, const std::string& name, const std::string& value);
void set_attribute(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& values);

}  // namespace tg::onnx_export
