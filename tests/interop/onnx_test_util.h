// The ONNX export tests' shared pieces: reading an exported file back with libonnx, and the models and weights
// the checks run on.
#pragma once
#include <doctest/doctest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <map>
#include <string>
#include <vector>

#include "autograd/random/rng.h"
#include "interop/onnx_export.h"
#include "layers/layers.h"

namespace tg::onnx_test {

inline onnx::ModelProto parse_model(const std::string& bytes) {
  onnx::ModelProto proto;
  REQUIRE(proto.ParseFromString(bytes));
  return proto;
}

inline const onnx::NodeProto& node_named(const onnx::ModelProto& proto, const std::string& name) {
  for (const onnx::NodeProto& node : proto.graph().node())
    if (node.name() == name) return node;
  FAIL("no node named " << name);
  throw std::logic_error("unreachable");
}

inline std::vector<int64_t> ints_attribute(const onnx::NodeProto& node, const std::string& name) {
  for (const onnx::AttributeProto& a : node.attribute())
    if (a.name() == name) return {a.ints().begin(), a.ints().end()};
  FAIL("node " << node.name() << " has no attribute " << name);
  return {};
}

inline std::map<std::string, int> op_counts(const onnx::ModelProto& proto) {
  std::map<std::string, int> counts;
  for (const onnx::NodeProto& node : proto.graph().node()) ++counts[node.op_type()];
  return counts;
}

// A value's dims: numbers, -1 for a free (named) dim.
inline std::vector<int64_t> dims_of(const onnx::ValueInfoProto& value) {
  std::vector<int64_t> dims;
  for (const auto& d : value.type().tensor_type().shape().dim()) dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return dims;
}

// Every weight of the model redrawn from U[lo, hi) (BN variances from U[0.5, 2)), so biases, BN shifts and scales
// are not the initializers' zeros and ones and the checks see every term.
inline void randomize_weights(Model& model, uint64_t seed) {
  uint64_t stream = seed;
  for (Weight& w : model.weights()) {
    const bool variance = w.name.ends_with("/moving_variance");
    const bool kernel = w.name.ends_with("/kernel");
    Tensor& t = w.variable.value();
    // Kernels keep a fan-in scale so activations stay of order one through a deep model.
    const double fan_in = kernel ? double(t.numel() / t.dim(-1)) : 1.0;
    const double bound = kernel ? std::sqrt(3.0 / fan_in) : 0.5;
    Rng(++stream).fill_uniform(t, variance ? 0.5 : -bound, variance ? 2.0 : bound);
  }
}

inline Tensor random_input(Shape shape, uint64_t seed) {
  Tensor t(std::move(shape), DType::F32);
  Rng(seed).fill_uniform(t, 0.0, 1.0);
  return t;
}

}  // namespace tg::onnx_test
