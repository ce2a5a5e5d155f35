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
}  // namespace

std::string Model::summary() const {
  std::vector<Row> rows;
  bool any_padding = false;
  for (const CallPtr& c : calls_) {
    Row r;
    std::vector<Shape> in;
    for (const SymbolicTensor& t : c->inputs) in.push_back(t.shape());
    const std::string note = is_input(*c) ? "" : c->layer->padding_note(in);
    any_padding = any_padding || !note.empty();
    const std::string shape = keras_shape(c->output_shape);
    r.cells = {c->layer->name() + " (" + c->layer->class_name() + ")", is_input(*c) ? "[" + shape + "]" : shape,
               std::to_string(c->layer->count_params()), note};
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
  std::string out = "Model: \"" + name_ + "\"\n" + std::string(line, '_') + "\n";
  out += format(header, "Connected to") + std::string(line, '=') + "\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    out += format(r.cells, r.connected[0]);
    for (size_t j = 1; j < r.connected.size(); ++j) out += format(std::vector<std::string>(columns), r.connected[j]);
    if (i + 1 < rows.size()) out += "\n";
  }
  const int64_t total = count_params(), trainable = count_trainable_params();
  const double bytes_per = dtype_ == DType::F32 ? 4.0 : 8.0;
  out += std::string(line, '=') + "\n";
  out += "Total params: " + with_commas(total) + " (" + memory_size(double(total) * bytes_per) + ")\n";
  out += "Trainable params: " + with_commas(trainable) + " (" + memory_size(double(trainable) * bytes_per) + ")\n";
  out += "Non-trainable params: " + with_commas(total - trainable) + " (" +
         memory_size(double(total - trainable) * bytes_per) + ")\n";
  out += std::string(line, '_') + "\n";
  return out;
}

void Model::print_summary(std::ostream& out) const { out << summary() << std::flush; }

}  // namespace tg
