#include "layers/merge.h"

#include "autograd/ops.h"

namespace tg {

namespace {
std::string axis_word(int axis, size_t rank) {
  if (rank == 3) return axis == 0 ? "height" : axis == 1 ? "width" : "channels";
  return "axis " + std::to_string(axis + 1);
}

// The axes (batch excluded) along which the inputs differ, other than `skip`.
std::vector<int> differing_axes(const std::vector<Shape>& inputs, int skip) {
  std::vector<int> axes;
  for (int a = 0; a < static_cast<int>(inputs[0].size()); ++a) {
    if (a == skip) continue;
    for (const Shape& s : inputs)
      if (s[a] != inputs[0][a]) {
        axes.push_back(a);
        break;
      }
  }
  return axes;
}

std::string list_axes(const std::vector<int>& axes, size_t rank) {
  std::string s;
  for (size_t i = 0; i < axes.size(); ++i)
    s += (i == 0 ? "" : i + 1 == axes.size() ? " and " : ", ") + axis_word(axes[i], rank);
  return s;
}

void check_count_and_rank(const std::vector<Shape>& inputs, const std::string& who) {
  if (inputs.size() < 2)
    throw ShapeError(who + " needs at least two inputs, got " + std::to_string(inputs.size()) + ".");
  for (const Shape& s : inputs)
    if (s.size() != inputs[0].size())
      throw ShapeError(who + " needs inputs of the same rank; they have ranks " + std::to_string(inputs[0].size() + 1) +
                       " and " + std::to_string(s.size() + 1) + ".");
}
}  // namespace

Shape Concatenate::output_shape(const std::vector<Shape>& inputs) const {
  check_count_and_rank(inputs, class_name());
  const int rank = static_cast<int>(inputs[0].size()) + 1;  // with the batch axis
  const int axis = axis_ < 0 ? axis_ + rank : axis_;
  if (axis <= 0 || axis >= rank)
    throw ShapeError("Its axis " + std::to_string(axis_) + " is not a non-batch axis of these rank-" +
                     std::to_string(rank) + " inputs.");
  const int a = axis - 1;  // without the batch axis
  const std::vector<int> differ = differing_axes(inputs, a);
  if (!differ.empty())
    throw JoinMismatch("Concatenation along axis " + std::to_string(axis_) +
                           " needs every other axis to match, but " + list_axes(differ, inputs[0].size()) + " differ" +
                           (differ.size() == 1 ? "s" : "") + ".",
                       differ);
  Shape out = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) out[a] += inputs[i][a];
  return out;
}

Variable Concatenate::call(const std::vector<Variable>& inputs, CallContext&) const { return concat(inputs, axis_); }

std::shared_ptr<Layer> Concatenate::from_config(const nlohmann::json& c) {
  return std::make_shared<Concatenate>(c.at("axis").get<int>());
}

Shape Add::output_shape(const std::vector<Shape>& inputs) const {
  check_count_and_rank(inputs, class_name());
  const std::vector<int> differ = differing_axes(inputs, -1);
  if (!differ.empty())
    throw JoinMismatch("Add needs inputs of the same shape, but " + list_axes(differ, inputs[0].size()) + " differ" +
                           (differ.size() == 1 ? "s" : "") + ".",
                       differ);
  return inputs[0];
}

Variable Add::call(const std::vector<Variable>& inputs, CallContext&) const {
  Variable sum = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) sum = tg::add(sum, inputs[i]);
  return sum;
}

std::shared_ptr<Layer> Add::from_config(const nlohmann::json&) { return std::make_shared<Add>(); }

SymbolicTensor concatenate(std::vector<SymbolicTensor> inputs, int axis) { return Concatenate(axis)(std::move(inputs)); }

SymbolicTensor add(std::vector<SymbolicTensor> inputs) { return Add()(std::move(inputs)); }

}  // namespace tg
