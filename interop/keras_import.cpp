// Reading Keras files: the model config turned into tapegrad's, and each layer's tensors found where Keras put them.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "interop/keras.h"
#include "interop/keras_config.h"
#include "interop/keras_source.h"

namespace tg::interop {

namespace {

struct WantedLayer {
  std::string name, keras_class;
  std::vector<WeightSpec> weights;  // in the model's order: trainable first, as Keras lists them
};

// One layer's tensors in the file: datasets relative to `group`, in the file's order.
struct FileLayer {
  std::string where;
  h5::Handle group;
  std::vector<std::string> datasets;
};

std::string weight_short_name(const std::string& name) { return name.substr(name.rfind('/') + 1); }

// Keras 2 splits attributes larger than HDF5's object header into name0, name1, ... (save_attributes_to_hdf5_group).
std::vector<std::string> chunked_strings(hid_t loc, const std::string& name, const std::string& where) {
  if (h5::has_attribute(loc, name)) return h5::read_strings(loc, name, where);
  std::vector<std::string> all;
  for (int i = 0; h5::has_attribute(loc, name + std::to_string(i)); ++i) {
    std::vector<std::string> part = h5::read_strings(loc, name + std::to_string(i), where);
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

std::optional<FileLayer> keras2_layer(const KerasSource& s, const std::string& name) {
  if (!h5::exists(s.weights.get(), name)) return std::nullopt;
  FileLayer f;
  // "w.h5: conv2d" (save_weights), "m.h5: model_weights/conv2d" (model.save)
  f.where = s.weights_where + (s.weights_where == s.path ? ": " : "/") + name;
  f.group = h5::open_group(s.weights.get(), name, s.weights_where);
  f.datasets = chunked_strings(f.group.get(), "weight_names", f.where);
  return f;
}

std::optional<FileLayer> keras3_layer(const KerasSource& s, const std::string& path) {
  const std::string vars = path + "/vars";
  if (!h5::exists(s.weights.get(), vars)) return std::nullopt;
  FileLayer f;
  f.where = s.weights_where + ": " + vars;
  f.group = h5::open_group(s.weights.get(), vars, s.weights_where);
  const std::vector<std::string> members = h5::member_names(f.group.get(), f.where);
  for (size_t i = 0; i < members.size(); ++i) {
    if (std::find(members.begin(), members.end(), std::to_string(i)) == members.end())
      throw std::runtime_error(f.where + ": holds " + std::to_string(members.size()) + " entries but no '" +
                               std::to_string(i) + "' (Keras numbers a layer's variables 0, 1, ...)");
    f.datasets.push_back(std::to_string(i));
  }
  return f;
}

std::string spec_list(const std::vector<WeightSpec>& specs) {
  std::string text;
  for (const WeightSpec& w : specs) text += (text.empty() ? "" : ", ") + weight_short_name(w.name) + " " + shape_str(w.shape);
  return text;
}

// Checks the file's tensors of one layer against the model's (count, names where Keras 2 gives them, shapes), then
// reads them under the model's weight names.
void take_layer(const WantedLayer& want, const FileLayer& file, bool named_weights, std::vector<NamedTensor>& out) {
  std::vector<Shape> shapes;
  std::string found;
  for (const std::string& d : file.datasets) {
    shapes.push_back(h5::dataset_shape(file.group.get(), d, file.where));
    found += (found.empty() ? "" : ", ") + d + " " + shape_str(shapes.back());
  }
  const std::string layer = "layer '" + want.name + "' (" + want.keras_class + ")";
  if (file.datasets.size() != want.weights.size())
    throw std::runtime_error(file.where + ": holds " + std::to_string(file.datasets.size()) + " weights (" + found +
                             ") but the model's " + layer + " has " + std::to_string(want.weights.size()) + " (" +
                             spec_list(want.weights) + "); the file holds another architecture");
  static const std::set<std::string> known = {"kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"};
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::string expected = weight_short_name(want.weights[i].name);
    if (named_weights) {
      std::string given = weight_short_name(file.datasets[i]);
      given = given.substr(0, given.find(':'));  // "kernel:0"
      if (known.count(given) && given != expected)
        throw std::runtime_error(file.where + ": weight " + std::to_string(i) + " is '" + file.datasets[i] +
                                 "' where the model's " + layer + " has '" + expected + "'");
    }
    if (shapes[i] != want.weights[i].shape)
      throw std::runtime_error(file.where + ": '" + file.datasets[i] + "' has shape " + shape_str(shapes[i]) +
                               " but the model's " + layer + " needs " + expected + " " +
                               shape_str(want.weights[i].shape) + "; the file holds another architecture");
  }
  for (size_t i = 0; i < shapes.size(); ++i)
    out.push_back({want.weights[i].name, h5::read_floats(file.group.get(), file.datasets[i], file.where)});
}

std::vector<const WantedLayer*> with_weights(const std::vector<WantedLayer>& layers) {
  std::vector<const WantedLayer*> out;
  for (const WantedLayer& l : layers)
    if (!l.weights.empty()) out.push_back(&l);
  return out;
}

// Keras 2 files: by layer name; with `allow_order`, when the names differ, by the order of the layers with weights.
std::vector<NamedTensor> keras2_tensors(const KerasSource& s, const std::vector<WantedLayer>& layers, bool allow_order,
                                        std::string& how) {
  std::vector<std::pair<std::string, FileLayer>> file_layers;  // those with weights, in layer_names order
  for (const std::string& name : chunked_strings(s.weights.get(), "layer_names", s.weights_where)) {
    std::optional<FileLayer> f = keras2_layer(s, name);
    if (!f)
      throw std::runtime_error(s.weights_where + ": attribute layer_names lists '" + name +
                               "' but there is no group of that name");
    if (!f->datasets.empty()) file_layers.emplace_back(name, std::move(*f));
  }
  const std::vector<const WantedLayer*> wanted = with_weights(layers);
  std::map<std::string, FileLayer*> by_name;
  for (auto& [name, f] : file_layers) by_name[name] = &f;
  const bool names_match = std::all_of(wanted.begin(), wanted.end(), [&](const WantedLayer* w) {
    return by_name.count(w->name) > 0;
  });
  std::vector<NamedTensor> tensors;
  if (names_match || !allow_order) {
    std::set<std::string> used;
    for (const WantedLayer* w : wanted) {
      const auto it = by_name.find(w->name);
      if (it == by_name.end())
        throw std::runtime_error(s.weights_where + ": has no weights for layer '" + w->name + "' (" + w->keras_class +
                                 "): no group '" + w->name + "' with weight_names");
      take_layer(*w, *it->second, true, tensors);
      used.insert(w->name);
    }
    for (const auto& [name, f] : file_layers)
      if (!used.count(name))
        throw std::runtime_error(s.weights_where + ": holds weights for layer '" + name +
                                 "', which the model does not have; the file holds another architecture");
    how = "layers matched by name";
    return tensors;
  }
  if (file_layers.size() != wanted.size())
    throw std::runtime_error(s.weights_where + ": holds weights for " + std::to_string(file_layers.size()) +
                             " layers but the model has " + std::to_string(wanted.size()) +
                             " layers with weights, and their names differ (the model's '" + wanted.front()->name +
                             "', the file's '" + (file_layers.empty() ? "" : file_layers.front().first) +
                             "'), so they cannot be paired; the file holds another architecture");
  for (size_t i = 0; i < wanted.size(); ++i) take_layer(*wanted[i], file_layers[i].second, true, tensors);
  how = "layers matched by order (the names differ)";
  return tensors;
}

// Keras 3 files: each layer's group is named after its class and its count among model.layers of that class.
std::vector<NamedTensor> keras3_tensors(const KerasSource& s, const std::vector<WantedLayer>& layers, std::string& how) {
  const std::string root = h5::exists(s.weights.get(), "layers") ? "layers" : "_layer_checkpoint_dependencies";
  std::map<std::string, int> seen;
  std::map<std::string, std::string> by_class;  // layer name -> path
  for (const WantedLayer& l : layers) {
    const std::string base = keras_snake_case(l.keras_class);
    const int n = seen[base]++;
    by_class[l.name] = root + "/" + (n == 0 ? base : base + "_" + std::to_string(n));
  }
  const std::vector<const WantedLayer*> wanted = with_weights(layers);
  // Keras 2.13-2.15's .keras files and early Keras 3 named the groups after the layers instead.
  const bool class_paths = std::all_of(wanted.begin(), wanted.end(), [&](const WantedLayer* w) {
    return h5::exists(s.weights.get(), by_class[w->name] + "/vars");
  });
  const bool name_paths = !class_paths && std::all_of(wanted.begin(), wanted.end(), [&](const WantedLayer* w) {
    return h5::exists(s.weights.get(), root + "/" + w->name + "/vars");
  });
  std::vector<NamedTensor> tensors;
  for (const WantedLayer* w : wanted) {
    const std::string path = name_paths ? root + "/" + w->name : by_class[w->name];
    std::optional<FileLayer> f = keras3_layer(s, path);
    if (!f)
      throw std::runtime_error(s.weights_where + ": has no weights for layer '" + w->name + "' (" + w->keras_class +
                               "): no group '" + path + "/vars' (Keras 3 names each layer's group after its class "
                               "and its count among the model's layers of that class)");
    take_layer(*w, *f, false, tensors);
  }
  how = name_paths ? "layers matched by name" : "layers matched by Keras 3's class-and-count paths";
  return tensors;
}

}  // namespace

KerasImport import_keras_model(const std::filesystem::path& file, const KerasImportOptions& options) {
  h5::QuietErrors quiet;
  KerasSource s = open_keras_source(file);
  if (!s.model_config)
    throw std::runtime_error(s.path + ": holds weights only (" + format_name(s.format) + "), not the architecture; "
                             "load them into a tapegrad model of the same architecture (tapegrad import-keras with "
                             "--arch or the model flags; tg::interop::load_keras_weights)");
  TranslatedModel t = translate_keras_model(*s.model_config, s.path, s.keras_major(), options.input_shape);
  ModelGraph graph;
  try {
    graph = Model::graph_from_config(t.config);
  } catch (const std::exception& e) {
    throw std::invalid_argument(s.path + ": the Keras model cannot be built in tapegrad: " + e.what());
  }
  std::map<std::string, std::vector<WeightSpec>> specs;
  for (const WeightSpec& w : planned_weights(graph)) specs[w.name.substr(0, w.name.rfind('/'))].push_back(w);
  std::vector<WantedLayer> layers;
  for (const KerasLayerRef& l : t.layers) layers.push_back({l.name, l.keras_class, specs[l.name]});
  std::string how;
  const std::vector<NamedTensor> tensors = s.format == KerasFormat::Keras2Model
                                               ? keras2_tensors(s, layers, false, how)
                                               : keras3_tensors(s, layers, how);
  Model model = Model::from_config(t.config, tensors, s.path);
  return KerasImport{std::move(model), s.format, s.keras_version, std::move(t.notes)};
}

std::string load_keras_weights(Model& model, const std::filesystem::path& file) {
  h5::QuietErrors quiet;
  KerasSource s = open_keras_source(file);
  std::vector<WantedLayer> layers;
  for (const auto& layer : model.layers()) {
    WantedLayer l{layer->name(), layer->class_name(), {}};
    for (const Weight& w : layer->weights()) l.weights.push_back({w.name, w.variable.shape(), w.trainable});
    layers.push_back(std::move(l));
  }
  std::string how;
  const bool keras2 = s.format == KerasFormat::Keras2Model || s.format == KerasFormat::Keras2Weights;
  const std::vector<NamedTensor> tensors = keras2 ? keras2_tensors(s, layers, true, how) : keras3_tensors(s, layers, how);
  model.load_weights(tensors, s.path);
  return format_name(s.format) + ", " + how;
}

}  // namespace tg::interop
