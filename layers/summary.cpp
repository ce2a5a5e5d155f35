// Model::summary(): tf.keras's table for functional models, plus the padding that 'same' layers actually apply
// (the usual source of off-by-one surprises with even kernels and strides).
#include <cstdio>

#include "layers/model.h"

namespace tg {

namespace {
std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Keras's readable_memory_size: powers of 1024, two decimals.
std::string memory_size(double bytes) {
  const char* units[] = {"Byte", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", bytes, units[u]);
  return buf;
}

struct Row {
  std::vector<std::string> cells;
  std::vector<std::string> connected;  // one line each
};

std::string pad_right(std::string s, size_t width) { return s.size() < width ? s + std::string(width - s.size(), ' ') : s; }

std::vector<Shape> input_shapes(const LayerCall& c) {
  std::vector<Shape> shapes;
  for (const SymbolicTensor& t : c.inputs) shapes.push_back(t.shape());
  return shapes;
}

int64_t numel(const std::vector<WeightSpec>& specs, bool trainable_only = false) {
  int64_t n = 0;
  for (const WeightSpec& w : specs)
    if (w.trainable || !trainable_only) n += shape_numel(w.shape);
  return n;
}

// The table of a graph's calls; a built layer reports its weights, an unbuilt one what build() would create.
std::string summary_table(const std::vector<CallPtr>& calls, const std::string& name, DType dtype) {
  std::vector<Row> rows;
  bool any_padding = false;
  int64_t total = 0, trainable = 0;
  for (const CallPtr& c : calls) {
    Row r;
    const std::vector<Shape> in = input_shapes(*c);
    const std::string note = is_input(*c) ? "" : c->layer->padding_note(in);
    any_padding = any_padding || !note.empty();
    const std::string shape = keras_shape(c->output_shape);
    const std::vector<WeightSpec> weights = is_input(*c) ? std::vector<WeightSpec>{} : c->layer->weight_specs(in);
    total += numel(weights);
    trainable += numel(weights, true);
    r.cells = {c->layer->name() + " (" + c->layer->class_name() + ")", is_input(*c) ? "[" + shape + "]" : shape,
               std::to_string(numel(weights)), note};
    for (size_t i = 0; i < c->inputs.size(); ++i)
      r.connected.push_back(std::string(i == 0 ? "[" : " ") + "'" + c->inputs[i].name() + "[0][0]'" +
                            (i + 1 == c->inputs.size() ? "]" : ","));
    if (r.connected.empty()) r.connected.push_back("[]");
    rows.push_back(std::move(r));
  }
  std::vector<std::string> header = {"Layer (type)", "Output Shape", "Param #", "Padding (t, b, l, r)"};
  const size_t columns = any_padding ? 4 : 3;
  std::vector<size_t> width(columns);
  for (size_t k = 0; k < columns; ++k) {
    width[k] = header[k].size();
    for (const Row& r : rows) width[k] = std::max(width[k], r.cells[k].size());
    width[k] += 3;
  }
  size_t line = 1 + 12;
  for (size_t w : width) line += w;
  for (const Row& r : rows)
    for (const std::string& s : r.connected) line = std::max(line, 1 + width[0] + width[1] + width[2] + (columns > 3 ? width[3] : 0) + s.size());

  auto format = [&](const std::vector<std::string>& cells, const std::string& last) {
    std::string s = " ";
    for (size_t k = 0; k < columns; ++k) s += pad_right(cells[k], width[k]);
    s += last;
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::string out = "Model: \"" + name + "\"\n" + std::string(line, '_') + "\n";
  out += format(header, "Connected to") + std::string(line, '=') + "\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    out += format(r.cells, r.connected[0]);
    for (size_t j = 1; j < r.connected.size(); ++j) out += format(std::vector<std::string>(columns), r.connected[j]);
    if (i + 1 < rows.size()) out += "\n";
  }
  const double bytes_per = dtype == DType::F32 ? 4.0 : 8.0;
  out += std::string(line, '=') + "\n";
  out += "Total params: " + with_commas(total) + " (" + memory_size(double(total) * bytes_per) + ")\n";
  out += "Trainable params: " + with_commas(trainable) + " (" + memory_size(double(trainable) * bytes_per) + ")\n";
  out += "Non-trainable params: " + with_commas(total - trainable) + " (" +
         memory_size(double(total - trainable) * bytes_per) + ")\n";
  out += std::string(line, '_') + "\n";
  return out;
}

}  // namespace

std::string Model::summary() const { return summary_table(calls_, name_, dtype_); }

std::string summary(const ModelGraph& graph) { return summary_table(ancestors(graph.outputs), graph.name, DType::F32); }

std::vector<WeightSpec> planned_weights(const ModelGraph& graph) {
  std::vector<WeightSpec> all;
  for (const CallPtr& c : ancestors(graph.outputs))
    if (!is_input(*c))
      for (WeightSpec& w : c->layer->weight_specs(input_shapes(*c))) all.push_back(std::move(w));
  return all;
}

void Model::print_summary(std::ostream& out) const { out << summary() << std::flush; }

}  // namespace tg
