#include "interop/onnx_graph.h"

namespace tg::onnx_export {

namespace {
void set_type(onnx::ValueInfoProto& value, const std::string& name, const std::vector<Dim>& dims) {
  value.set_name(name);
  onnx::TypeProto_Tensor& tensor = *value.mutable_type()->mutable_tensor_type();
  tensor.set_elem_type(onnx::TensorProto::FLOAT);
  for (const Dim& d : dims) {
    onnx::TensorShapeProto_Dimension& dim = *tensor.mutable_shape()->add_dim();
    if (d.size >= 0)
      dim.set_dim_value(d.size);
    else
      dim.set_dim_param(d.param);
  }
}

onnx::AttributeProto& add_attribute(onnx::NodeProto& node, const std::string& name,
                                    onnx::AttributeProto::AttributeType type) {
  onnx::AttributeProto& attribute = *node.add_attribute();
  attribute.set_name(name);
  attribute.set_type(type);
  return attribute;
}
}  // namespace

onnx::NodeProto& GraphWriter::node(const std::string& op_type, const std::vector<std::string>& inputs,
                                   const std::vector<std::string>& outputs) {
  onnx::NodeProto& node = *graph_.add_node();
  node.set_op_type(op_type);
  node.set_name(outputs.at(0));
  for (const std::string& in : inputs) node.add_input(in);
  for (const std::string& out : outputs) node.add_output(out);
  return node;
}

void GraphWriter::initializer(const std::string& name, const std::vector<int64_t>& dims,
                              std::span<const float> values) {
  onnx::TensorProto& tensor = *graph_.add_initializer();
  tensor.set_name(name);
  tensor.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tensor.add_dims(d);
  // raw_data is little-endian float32, as in memory on the x86-64 and ARM64 machines tapegrad runs on.
  tensor.set_raw_data(values.data(), values.size_bytes());
}

void GraphWriter::input(const std::string& name, const std::vector<Dim>& dims) {
  set_type(*graph_.add_input(), name, dims);
}

void GraphWriter::output(const std::string& name, const std::vector<Dim>& dims) {
  set_type(*graph_.add_output(), name, dims);
}

void set_attribute(onnx::NodeProto& node, const std::string& name, int64_t value) {
  add_attribute(node, name, onnx::AttributeProto::INT).set_i(value);
}

void set_attribute(onnx::NodeProto& node, const std::string& name, float value) {
  add_attribute(node, name, onnx::AttributeProto::FLOAT).set_f(value);
}

void set_attribute(onnx::NodeProto& node, const std::string& name, const std::string& value) {
  add_attribute(node, name, onnx::AttributeProto::STRING).set_s(value);
}

void set_attribute(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& values) {
  onnx::AttributeProto& attribute = add_attribute(node, name, onnx::AttributeProto::INTS);
  for (int64_t v : values) attribute.add_ints(v);
}

}  // namespace tg::onnx_export
