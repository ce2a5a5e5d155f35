#include "layers/shape_errors.h"

#include <array>
#include <map>
#include <numeric>
#include <optional>

#include "layers/graph.h"

namespace tg {

namespace {
std::string axis_name(int axis) { return axis == 0 ? "height" : axis == 1 ? "width" : "channels"; }

std::vector<CallPtr> graph_inputs(const std::vector<CallPtr>& graph) {
  std::vector<CallPtr> inputs;
  for (const CallPtr& c : graph)
    if (is_input(*c)) inputs.push_back(c);
  return inputs;
}

// The nominal scale of a tensor against the graph's input along each axis, as (numerator, denominator): the
// product of the upsampling factors and downsampling strides on the path from the input (first inputs of joins).
std::array<std::array<int64_t, 2>, 2> nominal_scale(const LayerCall& call) {
  std::array<std::array<int64_t, 2>, 2> scale{{{1, 1}, {1, 1}}};
  for (const LayerCall* c = &call; !is_input(*c); c = c->inputs[0].call().get())
    for (int a = 0; a < 2; ++a) {
      scale[a][0] *= c->layer->upsampling()[a];
      scale[a][1] *= c->layer->downsampling()[a];
    }
  for (auto& s : scale) {
    const int64_t g = std::gcd(s[0], s[1]);
    s[0] /= g, s[1] /= g;
  }
  return scale;
}

// ": 1/2 of the input resolution 128x128" when the graph has a single image input and the tensor's nominal scale
// is the same along height and width; "nominally" when flooring along the way made the size differ from it.
std::string resolution_note(const SymbolicTensor& t) {
  const std::vector<CallPtr> inputs = graph_inputs(ancestors({t}));
  if (inputs.size() != 1 || inputs[0]->output_shape.size() != 3 || t.shape().size() != 3) return "";
  const auto scale = nominal_scale(*t.call());
  if (scale[0] != scale[1]) return "";
  const int64_t H = inputs[0]->output_shape[0], W = inputs[0]->output_shape[1];
  const auto [num, den] = scale[0];
  const bool exact = t.shape()[0] * den == H * num && t.shape()[1] * den == W * num;
  std::string factor = num == 1 && den == 1 ? "the" : den == 1 ? std::to_string(num) + "x the"
                                                     : std::to_string(num) + "/" + std::to_string(den) + " of the";
  return std::string(": ") + (exact ? "" : "nominally ") + factor + " input resolution " + std::to_string(H) + "x" +
         std::to_string(W);
}

std::string describe_input(const SymbolicTensor& t) {
  std::string s = "'" + t.name() + "' (" + t.layer().class_name();
  if (t.layer().passes_through()) {
    const LayerCall* c = t.call().get();
    while (c->layer->passes_through() && c->inputs.size() == 1) c = c->inputs[0].call().get();
    s += ", after '" + c->layer->name() + "'";
  }
  return s + "), shape " + keras_shape(t.shape()) + resolution_note(t);
}

// Would the join line up along `axis` if every image input had size `size` along it, with every downsampling
// layer before the join dividing its input exactly? Re-runs shape inference on the join's ancestors.
bool lines_up_at(const Layer& join, const std::vector<SymbolicTensor>& join_inputs, const std::vector<CallPtr>& graph,
                 int axis, int64_t size) {
  std::map<const LayerCall*, Shape> shapes;
  for (const CallPtr& c : graph) {
    if (is_input(*c)) {
      Shape s = c->output_shape;
      s[axis] = size;
      shapes[c.get()] = s;
      continue;
    }
    std::vector<Shape> in;
    for (const SymbolicTensor& t : c->inputs) in.push_back(shapes.at(t.call().get()));
    const int stride = c->layer->downsampling()[axis];
    if (stride > 1 && in[0].size() == 3 && in[0][axis] % stride != 0) return false;
    try {
      shapes[c.get()] = c->layer->output_shape(in);
    } catch (const std::exception&) {
      return false;
    }
  }
  std::vector<Shape> in;
  for (const SymbolicTensor& t : join_inputs) in.push_back(shapes.at(t.call().get()));
  try {
    join.output_shape(in);
    return true;
  } catch (const JoinMismatch& m) {
    for (int a : m.axes)
      if (a == axis) return false;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// The hint after a join's height or width mismatch; empty when it does not apply.
std::string size_hint(const Layer& join, const std::vector<SymbolicTensor>& join_inputs, const JoinMismatch& m) {
  const std::vector<CallPtr> graph = ancestors(join_inputs);
  const std::vector<CallPtr> inputs = graph_inputs(graph);
  if (inputs.empty()) return "";
  const Shape given = inputs[0]->output_shape;
  for (const CallPtr& c : inputs)
    if (c->output_shape.size() != 3 || c->output_shape[0] != given[0] || c->output_shape[1] != given[1]) return "";
  std::string found;
  bool all_found = true;
  for (int axis : m.axes) {
    if (axis > 1) continue;
    const int64_t g = given[axis];
    std::optional<int64_t> below, above;
    for (int64_t s = g - 1; s >= 1 && !below; --s)
      if (lines_up_at(join, join_inputs, graph, axis, s)) below = s;
    for (int64_t s = g + 1; s <= 4 * g && !above; ++s)
      if (lines_up_at(join, join_inputs, graph, axis, s)) above = s;
    if (!below && !above) {
      all_found = false;
      continue;
    }
    found += (found.empty() ? "" : ", ") + axis_name(axis) + " ";
    if (below) found += std::to_string(*below);
    if (below && above) found += " or ";
    if (above) found += std::to_string(*above);
  }
  bool spatial = false;
  for (int axis : m.axes) spatial = spatial || axis <= 1;
  if (!spatial) return "";
  if (!all_found)
    return "No input size up to " + std::to_string(4 * given[0]) + "x" + std::to_string(4 * given[1]) +
           " makes them line up: they come from different depths of the network. Join tensors of the same "
           "resolution.";
  return "Input sizes that line up here: " + found +
         " (every pooling and strided layer before this join then divides its input exactly).";
}
}  // namespace

void throw_shape_error(const Layer& layer, const std::vector<SymbolicTensor>& inputs, const ShapeError& problem) {
  std::string msg = layer.class_name() + " layer '" + layer.name() + "' does not fit its input" +
                    (inputs.size() == 1 ? "" : "s") + ":\n";
  for (size_t i = 0; i < inputs.size(); ++i)
    msg += "  input" + (inputs.size() == 1 ? std::string() : " " + std::to_string(i)) + ": " +
           describe_input(inputs[i]) + "\n";
  msg += problem.what();
  if (const auto* m = dynamic_cast<const JoinMismatch*>(&problem)) {
    const std::string hint = size_hint(layer, inputs, *m);
    if (!hint.empty()) msg += "\n" + hint;
  }
  throw ShapeError(msg);
}

}  // namespace tg
