#include "interop/onnx_layers.h"

#include <algorithm>
#include <array>
#include <functional>
#include <map>

#include "autograd/ops.h"
#include "interop/onnx_export.h"

namespace tg::onnx_export {

namespace {

using Pair = std::array<int, 2>;

[[noreturn]] void refuse(const LayerCallView& c, const std::string& why) {
  throw OnnxExportError("ONNX export: layer '" + c.layer.name() + "' (" + c.layer.class_name() + ") " + why);
}

const Tensor* find_weight(const LayerCallView& c, const std::string& short_name) {
  const std::string name = c.layer.name() + "/" + short_name;
  for (const Weight& w : c.layer.weights())
    if (w.name == name) return &w.variable.value();
  return nullptr;
}

const Tensor& weight(const LayerCallView& c, const std::string& short_name) {
  if (const Tensor* t = find_weight(c, short_name)) return *t;
  refuse(c, "has no weight '" + short_name + "'; was the model built?");
}

// A weight as a float32 initializer named like the weight ("conv2d_3/bias"); float64 models are rounded.
std::string add_vector(GraphWriter& g, const LayerCallView& c, const std::string& short_name, const Tensor& t) {
  const std::string name = c.layer.name() + "/" + short_name;
  const Tensor f = t.to(DType::F32);
  g.initializer(name, {f.numel()}, f.span<float>());
  return name;
}

// Keras kernels are [kh, kw, B, A] (Conv2D: B inputs, A filters; Conv2DTranspose: B filters, A inputs); ONNX's Conv
// and ConvTranspose both want [A, B, kh, kw], so one permutation serves both.
std::string add_kernel(GraphWriter& g, const LayerCallView& c) {
  const Tensor k = weight(c, "kernel").to(DType::F32);
  const int64_t kh = k.dim(0), kw = k.dim(1), b = k.dim(2), a = k.dim(3);
  const float* src = k.data<float>();
  std::vector<float> permuted(static_cast<size_t>(k.numel()));
  for (int64_t ai = 0; ai < a; ++ai)
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x)
          permuted[static_cast<size_t>(((ai * b + bi) * kh + y) * kw + x)] = src[((y * kw + x) * b + bi) * a + ai];
  const std::string name = c.layer.name() + "/kernel";
  g.initializer(name, {a, b, kh, kw}, permuted);
  return name;
}

Pair pair(const LayerCallView& c, const char* key) { return c.config.at(key).get<Pair>(); }
std::vector<int64_t> ints(Pair p) { return {p[0], p[1]}; }

// Keras's activation `act` from `in` into `out`; softmax is over the channels, axis 1 in NCHW.
void activate(GraphWriter& g, const LayerCallView& c, const std::string& act, const std::string& in,
              const std::string& out) {
  static const std::map<std::string, std::string> elementwise = {
      {"relu", "Relu"}, {"sigmoid", "Sigmoid"}, {"tanh", "Tanh"}};
  if (const auto it = elementwise.find(act); it != elementwise.end()) {
    g.node(it->second, {in}, {out});
  } else if (act == "softmax") {
    set_attribute(g.node("Softmax", {in}, {out}), "axis", int64_t{1});
  } else {
    refuse(c, "has activation '" + act + "', which the ONNX export does not cover (relu, sigmoid, tanh, softmax)");
  }
}

// ONNX's pads (top, left, bottom, right) for a window over the layer's input: 'same' as TensorFlow resolves it for
// this input size, the odd pixel after (bottom, right); 'valid' none.
std::vector<int64_t> window_pads(const LayerCallView& c, Pair kernel, Pair strides, Pair dilation) {
  const std::string padding = c.config.at("padding").get<std::string>();
  if (padding == "valid") return {0, 0, 0, 0};
  if (padding != "same") refuse(c, "has padding '" + padding + "'; the ONNX export covers 'same' and 'valid'");
  const Shape& in = c.input_shapes.at(0);
  const auto h = same_padding_1d(static_cast<int>(in[0]), kernel[0], strides[0], dilation[0]);
  const auto w = same_padding_1d(static_cast<int>(in[1]), kernel[1], strides[1], dilation[1]);
  return {h[0], w[0], h[1], w[1]};
}

// The convolution into `out`, or into out + "/preactivation" followed by the layer's activation.
std::string convolution(GraphWriter& g, const LayerCallView& c, const std::string& op_type, const std::string& out,
                        const std::function<void(onnx::NodeProto&)>& set_geometry) {
  std::vector<std::string> inputs = {c.inputs.at(0), add_kernel(g, c)};
  if (const Tensor* bias = find_weight(c, "bias")) inputs.push_back(add_vector(g, c, "bias", *bias));
  const std::string act = c.config.at("activation").get<std::string>();
  const std::string y = act == "linear" ? out : out + "/preactivation";
  onnx::NodeProto& node = g.node(op_type, inputs, {y});
  set_attribute(node, "kernel_shape", ints(pair(c, "kernel_size")));
  set_attribute(node, "strides", ints(pair(c, "strides")));
  set_attribute(node, "dilations", ints(pair(c, "dilation_rate")));
  set_attribute(node, "group", int64_t{1});
  set_geometry(node);
  if (act != "linear") activate(g, c, act, y, out);
  return out;
}

std::string conv2d(GraphWriter& g, const LayerCallView& c, const std::string& out) {
  return convolution(g, c, "Conv", out, [&](onnx::NodeProto& node) {
    set_attribute(node, "pads", window_pads(c, pair(c, "kernel_size"), pair(c, "strides"), pair(c, "dilation_rate")));
  });
}

// ONNX's ConvTranspose computes the full transposed output, (in - 1) * stride + k_eff, less pads, plus
// output_padding at the end. TensorFlow crops that full output by the 'same' padding of the convolution that maps
// the layer's output size back to its input (the odd pixel off the bottom/right) and, where the output is larger
// than the full size (a kernel smaller than the stride), fills the end: pads for the first, output_padding for the
// second, per axis.
std::string conv2d_transpose(GraphWriter& g, const LayerCallView& c, const std::string& out) {
  return convolution(g, c, "ConvTranspose", out, [&](onnx::NodeProto& node) {
    const std::string padding = c.config.at("padding").get<std::string>();
    if (padding != "same" && padding != "valid")
      refuse(c, "has padding '" + padding + "'; the ONNX export covers 'same' and 'valid'");
    const Pair k = pair(c, "kernel_size"), s = pair(c, "strides"), d = pair(c, "dilation_rate");
    std::vector<int64_t> pads(4, 0), output_padding(2, 0);
    for (int axis = 0; axis < 2; ++axis) {
      const int in = static_cast<int>(c.input_shapes.at(0)[axis]);
      const int size = static_cast<int>(c.output_shape[axis]);
      const int full = (in - 1) * s[axis] + (k[axis] - 1) * d[axis] + 1;
      const int before = padding == "same" ? same_padding_1d(size, k[axis], s[axis], d[axis])[0] : 0;
      const int rest = full - before - size;
      pads[axis] = before;
      pads[axis + 2] = std::max(rest, 0);
      output_padding[axis] = std::max(-rest, 0);
    }
    set_attribute(node, "pads", pads);
    set_attribute(node, "output_padding", output_padding);
  });
}

std::string pooling(GraphWriter& g, const LayerCallView& c, const std::string& out, const std::string& op_type) {
  const Pair pool = pair(c, "pool_size"), strides = pair(c, "strides");
  onnx::NodeProto& node = g.node(op_type, {c.inputs.at(0)}, {out});
  set_attribute(node, "kernel_shape", ints(pool));
  set_attribute(node, "strides", ints(strides));
  set_attribute(node, "pads", window_pads(c, pool, strides, {1, 1}));
  // Keras leaves 'same' padding out of the average's count.
  if (op_type == "AveragePool") set_attribute(node, "count_include_pad", int64_t{0});
  return out;
}

// Keras's nearest upsampling repeats each pixel (source = floor(destination / size)); its bilinear one samples at
// half-pixel centres, clamped at the borders, as ONNX's linear half_pixel Resize does.
std::string upsampling(GraphWriter& g, const LayerCallView& c, const std::string& out) {
  const Pair size = pair(c, "size");
  const std::string interpolation = c.config.at("interpolation").get<std::string>();
  const std::string scales = c.layer.name() + "/scales";
  const std::array<float, 4> factors = {1.0f, 1.0f, float(size[0]), float(size[1])};
  g.initializer(scales, {4}, factors);
  onnx::NodeProto& node = g.node("Resize", {c.inputs.at(0), "", scales}, {out});
  if (interpolation == "nearest") {
    set_attribute(node, "mode", std::string("nearest"));
    set_attribute(node, "coordinate_transformation_mode", std::string("asymmetric"));
    set_attribute(node, "nearest_mode", std::string("floor"));
  } else if (interpolation == "bilinear") {
    set_attribute(node, "mode", std::string("linear"));
    set_attribute(node, "coordinate_transformation_mode", std::string("half_pixel"));
  } else {
    refuse(c, "has interpolation '" + interpolation + "'; the ONNX export covers 'nearest' and 'bilinear'");
  }
  return out;
}

std::string concatenate(GraphWriter& g, const LayerCallView& c, const std::string& out) {
  const int rank = static_cast<int>(c.output_shape.size()) + 1;  // Keras counts the batch axis
  int axis = c.config.at("axis").get<int>();
  if (axis < 0) axis += rank;
  if (rank != 4 || axis < 1 || axis > 3) refuse(c, "joins along axis " + std::to_string(axis) + " of a rank-" +
                                                std::to_string(rank) + " tensor; the ONNX export covers images");
  static constexpr std::array<int64_t, 4> nchw_axis = {0, 2, 3, 1};  // NHWC axis -> NCHW axis
  set_attribute(g.node("Concat", c.inputs, {out}), "axis", nchw_axis[static_cast<size_t>(axis)]);
  return out;
}

std::string add(GraphWriter& g, const LayerCallView& c, const std::string& out) {
  g.node(c.inputs.size() == 2 ? "Add" : "Sum", c.inputs, {out});
  return out;
}

// BatchNormalization on its moving statistics, as in inference; ONNX needs a scale and a bias even when Keras has
// none (scale=False, center=False): ones and zeros.
std::string batch_normalization(GraphWriter& g, const LayerCallView& c, const std::string& out) {
  const int64_t channels = c.output_shape.back();
  auto weight_or = [&](const std::string& short_name, double fill) {
    if (const Tensor* t = find_weight(c, short_name)) return add_vector(g, c, short_name, *t);
    return add_vector(g, c, short_name, Tensor::full({channels}, fill));
  };
  const std::string scale = weight_or("gamma", 1.0), bias = weight_or("beta", 0.0);
  const std::string mean = add_vector(g, c, "moving_mean", weight(c, "moving_mean"));
  const std::string variance = add_vector(g, c, "moving_variance", weight(c, "moving_variance"));
  onnx::NodeProto& node = g.node("BatchNormalization", {c.inputs.at(0), scale, bias, mean, variance}, {out});
  set_attribute(node, "epsilon", c.config.at("epsilon").get<float>());
  return out;
}

std::string activation(GraphWriter& g, const LayerCallView& c, const std::string& out) {
  const std::string act = c.config.at("activation").get<std::string>();
  if (act == "linear") return c.inputs.at(0);
  activate(g, c, act, c.inputs.at(0), out);
  return out;
}

using Translator = std::function<std::string(GraphWriter&, const LayerCallView&, const std::string&)>;

const std::map<std::string, Translator>& translators() {
  static const std::map<std::string, Translator> table = {
      {"Conv2D", conv2d},
      {"Conv2DTranspose", conv2d_transpose},
      {"MaxPooling2D", [](auto& g, const auto& c, const auto& out) { return pooling(g, c, out, "MaxPool"); }},
      {"AveragePooling2D", [](auto& g, const auto& c, const auto& out) { return pooling(g, c, out, "AveragePool"); }},
      {"UpSampling2D", upsampling},
      {"Concatenate", concatenate},
      {"Add", add},
      {"BatchNormalization", batch_normalization},
      {"Activation", activation},
      // Inference skips dropout: its output is its input.
      {"Dropout", [](auto&, const auto& c, const auto&) { return c.inputs.at(0); }},
  };
  return table;
}

}  // namespace

const std::vector<std::string>& exported_layer_classes() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n = {"InputLayer"};
    for (const auto& [name, translate] : translators()) n.push_back(name);
    return n;
  }();
  return names;
}

std::string translate_layer(GraphWriter& graph, const LayerCallView& call, const std::string& out) {
  const auto it = translators().find(call.layer.class_name());
  if (it == translators().end()) {
    std::string covered;
    for (const std::string& name : exported_layer_classes()) covered += (covered.empty() ? "" : ", ") + name;
    refuse(call, "has no ONNX translation; the export covers " + covered);
  }
  try {
    return it->second(graph, call, out);
  } catch (const nlohmann::json::exception& e) {
    refuse(call, std::string("has a config the ONNX export cannot read: ") + e.what());
  }
}

}  // namespace tg::onnx_export
