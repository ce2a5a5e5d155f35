// ONNX export: files that ONNX's checker and shape inference accept, the seed models' layer graphs in them,
// TensorFlow's 'same' padding and the transposed convolutions' crops as explicit pads (hand-derived cases: README's
// table), the kernels' layout, and the refusals. Running the files in ONNX Runtime: onnx_runtime_test.cpp.
#include <doctest/doctest.h>
#include <onnx/shape_inference/implementation.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/interop/onnx_test_util.h"
#include "tests/temp_dir.h"

using namespace tg;
using namespace tg::onnx_test;

namespace {

// ONNX's shape inference, run on the exported graph from its input shape, pads, strides and output_padding alone,
// must arrive at the shape tapegrad gives every layer (NCHW inside the graph). Returns the layers compared.
int check_inferred_shapes(onnx::ModelProto proto, const ModelGraph& graph) {
  onnx::shape_inference::InferShapes(proto);
  std::map<std::string, std::vector<int64_t>> inferred;
  for (const onnx::ValueInfoProto& v : proto.graph().value_info()) inferred[v.name()] = dims_of(v);
  int compared = 0;
  for (const CallPtr& call : ancestors(graph.outputs)) {
    const std::string& name = call->layer->name();
    auto it = inferred.find(name);
    if (it == inferred.end()) it = inferred.find(name + "/nchw");  // inputs and outputs of an NHWC graph
    if (it == inferred.end()) continue;                             // layers inference skips (Dropout)
    const Shape& hwc = call->output_shape;
    CAPTURE(name);
    CHECK(it->second == std::vector<int64_t>{-1, hwc[2], hwc[0], hwc[1]});
    ++compared;
  }
  return compared;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A model of one layer on an input of this (H, W, C) shape, its graph kept for the shape check.
ModelGraph one_layer(Shape input, const std::function<SymbolicTensor(const SymbolicTensor&)>& layer) {
  NameScope names;
  const SymbolicTensor x = Input(std::move(input), "image");
  return {{x}, {layer(x)}, 0, "one_layer"};
}

// The pads (top, left, bottom, right) and output_padding the export gives the single layer of `graph`.
struct Geometry {
  std::vector<int64_t> pads, output_padding;
};
Geometry exported_geometry(const ModelGraph& graph) {
  Model model(graph);
  const onnx::ModelProto proto = parse_model(onnx_model_bytes(model));
  CHECK(check_inferred_shapes(proto, graph) == 2);
  const std::string layer = graph.outputs[0].name();
  const onnx::NodeProto& node = node_named(proto, layer + "/nchw");
  Geometry g{ints_attribute(node, "pads"), {}};
  if (node.op_type() == "ConvTranspose") g.output_padding = ints_attribute(node, "output_padding");
  return g;
}

using Pads = std::vector<int64_t>;

}  // namespace

TEST_CASE("ONNX export: the seed U-Net passes ONNX's checker and shape inference, its interface NHWC as tapegrad's") {
  const ModelGraph graph = unet_graph({64, 64, 1}, 2, /*base_filters=*/8);
  Model model(graph);
  const std::string bytes = onnx_model_bytes(model);
  const onnx::ModelProto proto = parse_model(bytes);
  CHECK_NOTHROW(onnx::checker::check_model(proto));
  REQUIRE(proto.opset_import_size() == 1);
  CHECK(proto.opset_import(0).version() == kOnnxOpset);
  CHECK(proto.producer_name() == "tapegrad");
  REQUIRE(proto.graph().input_size() == 1);
  REQUIRE(proto.graph().output_size() == 1);
  CHECK(dims_of(proto.graph().input(0)) == std::vector<int64_t>{-1, 64, 64, 1});
  CHECK(dims_of(proto.graph().output(0)) == std::vector<int64_t>{-1, 64, 64, 2});
  CHECK(proto.graph().input(0).name() == graph.inputs[0].name());
  CHECK(proto.graph().output(0).name() == graph.outputs[0].name());
  // Every layer's shape, as ONNX infers it from the file, is tapegrad's (the Dropouts are not in the file).
  CHECK(check_inferred_shapes(proto, graph) == int(ancestors(graph.outputs).size()) - 2);

  // The Keras layer graph, not tapegrad's fused kernels: 23 convolutions, each UpSampling2D and Concatenate of
  // its own, the output's softmax; no Dropout; NCHW inside, so one Transpose in and one out.
  const std::map<std::string, int> expected = {{"Conv", 23},  {"Relu", 22},   {"MaxPool", 4}, {"Resize", 4},
                                               {"Concat", 4}, {"Softmax", 1}, {"Transpose", 2}};
  CHECK(op_counts(proto) == expected);
  // Each weight once, as an initializer: every parameter is in the file.
  int64_t params = 0;
  for (const onnx::TensorProto& t : proto.graph().initializer())
    if (!t.name().ends_with("/scales")) params += static_cast<int64_t>(t.raw_data().size() / 4);
  CHECK(params == model.count_params());
}

TEST_CASE("ONNX export: 'same' padding as TensorFlow resolves it, the odd pixel at the bottom and right") {
  // README's table: (in, kernel, stride, dilation) -> pad before, after.
  auto conv = [](int in, int k, int s, int d) {
    return exported_geometry(one_layer({in, in, 2}, [&](const SymbolicTensor& x) {
             return Conv2D(3, k).strides(s).dilation_rate(d).padding("same")(x);
           })).pads;
  };
  CHECK(conv(5, 3, 1, 1) == Pads{1, 1, 1, 1});
  CHECK(conv(5, 2, 1, 1) == Pads{0, 0, 1, 1});  // the U-Net's 2x2 convolutions after each upsampling
  CHECK(conv(6, 4, 1, 1) == Pads{1, 1, 2, 2});
  CHECK(conv(8, 3, 2, 1) == Pads{0, 0, 1, 1});  // stride 2: depends on the input size
  CHECK(conv(7, 3, 2, 1) == Pads{1, 1, 1, 1});
  CHECK(conv(6, 3, 1, 2) == Pads{2, 2, 2, 2});
  CHECK(conv(6, 2, 1, 3) == Pads{1, 1, 2, 2});
  CHECK(conv(2, 5, 3, 1) == Pads{1, 1, 2, 2});  // kernel larger than the input
  // Height and width resolve separately: 8 rows and 7 columns at stride 2.
  CHECK(exported_geometry(one_layer({8, 7, 1}, [](const SymbolicTensor& x) {
          return Conv2D(2, 3).strides(2).padding("same")(x);
        })).pads == Pads{0, 1, 1, 1});
  CHECK(exported_geometry(one_layer({5, 5, 1}, [](const SymbolicTensor& x) {
          return Conv2D(2, 3).padding("valid")(x);
        })).pads == Pads{0, 0, 0, 0});
  // Pooling pads the same way (max: padding never wins; average: left out of the count).
  CHECK(exported_geometry(one_layer({8, 8, 1}, [](const SymbolicTensor& x) {
          return MaxPooling2D(3).strides(2).padding("same")(x);
        })).pads == Pads{0, 0, 1, 1});
  CHECK(exported_geometry(one_layer({7, 7, 1}, [](const SymbolicTensor& x) {
          return AveragePooling2D(2).padding("same")(x);
        })).pads == Pads{0, 0, 1, 1});
}

TEST_CASE("ONNX export: Conv2DTranspose's crop and fill as ConvTranspose pads and output_padding") {
  auto transposed = [](int in, int k, const std::string& padding, std::array<int, 2> output_padding = {-1, -1}) {
    return exported_geometry(one_layer({in, in, 2}, [&](const SymbolicTensor& x) {
      return Conv2DTranspose(3, k).strides(2).padding(padding).output_padding(output_padding)(x);
    }));
  };
  // README's table: 'same' 5 -> 10 with kernel 3 is the full 11 less 0 before and 1 after.
  Geometry g = transposed(5, 3, "same");
  CHECK(g.pads == Pads{0, 0, 1, 1});
  CHECK(g.output_padding == Pads{0, 0});
  g = transposed(16, 2, "same");  // the seed autoencoder's up-convolutions: 16 -> 32, nothing cropped
  CHECK(g.pads == Pads{0, 0, 0, 0});
  CHECK(g.output_padding == Pads{0, 0});
  g = transposed(5, 3, "valid");  // 5 -> 11, the full output
  CHECK(g.pads == Pads{0, 0, 0, 0});
  CHECK(g.output_padding == Pads{0, 0});
  // A kernel smaller than the stride: the full output (in - 1) * 2 + 1 is one short of in * 2, filled at the end.
  g = transposed(5, 1, "same");
  CHECK(g.pads == Pads{0, 0, 0, 0});
  CHECK(g.output_padding == Pads{1, 1});
  g = transposed(5, 1, "valid");
  CHECK(g.output_padding == Pads{1, 1});
  // Keras's output_padding: 'same', kernel 3, output_padding 0 -> 9 = full 11 less 1 and 1.
  g = transposed(5, 3, "same", {0, 0});
  CHECK(g.pads == Pads{1, 1, 1, 1});
  CHECK(g.output_padding == Pads{0, 0});
  g = transposed(5, 4, "same", {1, 1});  // -> 9 = full 12 less 1 before and 2 after
  CHECK(g.pads == Pads{1, 1, 2, 2});
}

TEST_CASE("ONNX export: kernels go from Keras's layout (kh, kw, in, out), transposed (kh, kw, out, in), to ONNX's") {
  const ModelGraph graph = one_layer({6, 5, 2}, [](const SymbolicTensor& x) {
    const SymbolicTensor y = Conv2D(3, {2, 3}).padding("same").name("conv")(x);
    return Conv2DTranspose(4, {3, 2}).strides(2).padding("same").name("deconv")(y);
  });
  Model model(graph);
  randomize_weights(model, 5);
  const onnx::ModelProto proto = parse_model(onnx_model_bytes(model));
  // Both ONNX layouts are [A, B, kh, kw] for Keras's [kh, kw, B, A]: Conv's [filters, in, kh, kw] from
  // Conv2D's [kh, kw, in, filters], ConvTranspose's [in, filters, kh, kw] from Conv2DTranspose's [kh, kw, filters, in].
  auto check_kernel = [&](const std::string& layer, const std::vector<int64_t>& dims) {
    CAPTURE(layer);
    const onnx::TensorProto* found = nullptr;
    for (const onnx::TensorProto& t : proto.graph().initializer())
      if (t.name() == layer + "/kernel") found = &t;
    REQUIRE(found != nullptr);
    REQUIRE(std::vector<int64_t>(found->dims().begin(), found->dims().end()) == dims);
    const Tensor& keras = model.layer(layer).weights()[0].variable.value();
    const auto* onnx_values = reinterpret_cast<const float*>(found->raw_data().data());
    int64_t i = 0;
    for (int a = 0; a < dims[0]; ++a)
      for (int b = 0; b < dims[1]; ++b)
        for (int y = 0; y < dims[2]; ++y)
          for (int x = 0; x < dims[3]; ++x) CHECK(onnx_values[i++] == float(keras.at({y, x, b, a})));
  };
  check_kernel("conv", {3, 2, 2, 3});
  check_kernel("deconv", {3, 4, 3, 2});
}

TEST_CASE("ONNX export: the corrected seed autoencoder keeps BatchNormalization on its moving statistics") {
  const ModelGraph graph = seed_autoencoder_graph({32, 32, 3}, /*corrected=*/true, 0, /*base_filters=*/8);
  Model model(graph);
  randomize_weights(model, 11);
  const onnx::ModelProto proto = parse_model(onnx_model_bytes(model));
  CHECK_NOTHROW(onnx::checker::check_model(proto));
  CHECK(check_inferred_shapes(proto, graph) == int(ancestors(graph.outputs).size()));
  const std::map<std::string, int> counts = op_counts(proto);
  CHECK(counts.at("BatchNormalization") == 10);
  CHECK(counts.at("ConvTranspose") == 2);
  CHECK(counts.count("Softmax") == 0);  // the seed's output is linear
  const onnx::NodeProto& bn = node_named(proto, "batch_normalization");
  REQUIRE(bn.input_size() == 5);
  CHECK(bn.input(3) == "batch_normalization/moving_mean");
  CHECK(bn.input(4) == "batch_normalization/moving_variance");
  for (const onnx::AttributeProto& a : bn.attribute())
    if (a.name() == "epsilon") CHECK(a.f() == doctest::Approx(1e-3));
}

TEST_CASE("ONNX export: NCHW layout exposes the graph's own layout, without transposes") {
  const ModelGraph graph = unet_graph({32, 48, 3}, 1, /*base_filters=*/4, /*depth=*/2);
  Model model(graph);
  const onnx::ModelProto proto = parse_model(onnx_model_bytes(model, {.layout = OnnxLayout::NCHW}));
  CHECK_NOTHROW(onnx::checker::check_model(proto));
  CHECK(dims_of(proto.graph().input(0)) == std::vector<int64_t>{-1, 3, 32, 48});
  CHECK(dims_of(proto.graph().output(0)) == std::vector<int64_t>{-1, 1, 32, 48});
  CHECK(op_counts(proto).count("Transpose") == 0);
  CHECK(op_counts(proto).at("Sigmoid") == 1);  // one class: sigmoid
}

namespace {
// A layer class the export has no translation for.
class Doubler final : public LayerBuilder<Doubler> {
 public:
  std::string class_name() const override { return "Doubler"; }
  std::string base_name() const override { return "doubler"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override { return inputs.at(0); }
  Variable call(const std::vector<Variable>& inputs, CallContext&) const override { return inputs[0] * 2.0; }
  nlohmann::json config() const override { return nlohmann::json::object(); }
};
}  // namespace

TEST_CASE("ONNX export: a layer without an ONNX translation is refused, naming it, and nothing is written") {
  NameScope names;
  const SymbolicTensor x = Input({8, 8, 1});
  const SymbolicTensor y = Doubler().name("twice")(Conv2D(2, 3).padding("same")(x));
  Model model(x, Conv2D(2, 1).activation("softmax")(y));
  testing::TempDir tmp;
  const auto path = tmp / "model.onnx";
  try {
    export_onnx(model, path);
    FAIL("export_onnx accepted a layer it cannot translate");
  } catch (const OnnxExportError& e) {
    const std::string message = e.what();
    CHECK(message.find("'twice'") != std::string::npos);
    CHECK(message.find("Doubler") != std::string::npos);
    CHECK(message.find("Conv2DTranspose") != std::string::npos);  // what the export does cover
  }
  CHECK(std::filesystem::is_empty(tmp.path()));
}

TEST_CASE("ONNX export: export_onnx writes the checked file, replaces an old one, and names a path it cannot write") {
  Model model = unet({16, 16, 1}, 2, /*base_filters=*/2, /*depth=*/1);
  testing::TempDir tmp;
  const auto path = tmp / "model.onnx";
  std::ofstream(path) << "an older file";
  export_onnx(model, path);
  const std::string bytes = read_file(path);
  CHECK(bytes == onnx_model_bytes(model));
  CHECK_NOTHROW(onnx::checker::check_model(parse_model(bytes)));
  CHECK(std::distance(std::filesystem::directory_iterator(tmp.path()), {}) == 1);  // no temporary file left

  const auto missing = tmp / "no_such_folder" / "model.onnx";
  try {
    export_onnx(model, missing);
    FAIL("export_onnx wrote into a missing folder");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(missing.string()) != std::string::npos);
  }
}
