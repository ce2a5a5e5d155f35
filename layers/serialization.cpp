// A model on disk: its config (layers, their Keras arguments and connections, the seed) as JSON, and its weights
// as safetensors with the config in the header, so load_model() needs no code.
#include <cmath>
#include <map>
#include <optional>
#include <unordered_map>

#include "autograd/io/safetensors.h"
#include "layers/model.h"
#include "layers/registry.h"

namespace tg {

namespace {
constexpr const char* kConfigKey = "tapegrad.model";
constexpr const char* kFormat = "tapegrad.functional";
// Training checkpoints (train/checkpoint.h) add the optimizer's state under this prefix; a model reads past it, so
// one loader serves weight files and checkpoints alike.
constexpr std::string_view kTrainingStatePrefix = "optimizer/";

// Where a file's weights came from, for error messages: " (it was saved from model 'NAME')" or "".
std::string saved_from(const SafetensorsFile& file) {
  if (const auto it = file.metadata.find(kConfigKey); it != file.metadata.end()) {
    try {
      return " (it was saved from model '" + nlohmann::json::parse(it->second).value("name", "?") + "')";
    } catch (const nlohmann::json::exception&) {
    }
  }
  return "";
}

// Pairs every weight with its tensor, checking all of them first, so a failed load changes nothing; called with a
// graph's planned weights, it refuses a file that does not fit the architecture before the model is allocated.
std::vector<const Tensor*> matching_tensors(const std::vector<WeightSpec>& weights,
                                            const std::vector<NamedTensor>& tensors, const std::string& source,
                                            const std::string& origin, const std::string& model_name) {
  std::unordered_map<std::string_view, const Tensor*> by_name;
  for (const NamedTensor& t : tensors) by_name[t.name] = &t.tensor;
  std::unordered_map<std::string_view, const WeightSpec*> wanted;
  std::vector<const Tensor*> found;
  for (const WeightSpec& w : weights) {
    wanted[w.name] = &w;
    const auto it = by_name.find(w.name);
    if (it == by_name.end())
      throw std::runtime_error(source + ": has no tensor '" + w.name + "' " + shape_str(w.shape) + ", which model '" +
                               model_name + "' needs" + origin + "; the file holds another architecture");
    if (it->second->shape() != w.shape)
      throw std::runtime_error(source + ": tensor '" + w.name + "' has shape " + shape_str(it->second->shape()) +
                               " but model '" + model_name + "' needs " + shape_str(w.shape) + origin +
                               "; the file holds another architecture");
    int64_t non_finite = 0;
    dispatch(it->second->dtype(), [&]<class T>() {
      for (T v : it->second->span<T>()) non_finite += !std::isfinite(v);
    });
    if (non_finite > 0)
      throw std::runtime_error(source + ": tensor '" + w.name + "' holds " + std::to_string(non_finite) +
                               " NaN or infinite values: the run that saved it diverged; use an earlier checkpoint");
    found.push_back(it->second);
  }
  for (const NamedTensor& t : tensors)
    if (!wanted.count(t.name) && !t.name.starts_with(kTrainingStatePrefix))
      throw std::runtime_error(source + ": holds tensor '" + t.name + "' " + shape_str(t.tensor.shape()) +
                               ", which model '" + model_name + "' does not have" + origin +
                               "; the file holds another architecture");
  return found;
}

void load_from(std::vector<Weight> weights, const std::vector<NamedTensor>& tensors, const std::string& source,
               const std::string& origin, const std::string& model_name) {
  std::vector<WeightSpec> specs;
  for (const Weight& w : weights) specs.push_back({w.name, w.variable.shape(), w.trainable});
  const std::vector<const Tensor*> found = matching_tensors(specs, tensors, source, origin, model_name);
  for (size_t i = 0; i < weights.size(); ++i) weights[i].variable.value().copy_from(*found[i]);
}

// The model of `graph` holding `tensors`, which are checked against its planned weights before it is built.
Model build_loaded(const ModelGraph& graph, const std::vector<NamedTensor>& tensors, const std::string& source,
                   const std::string& origin) {
  matching_tensors(planned_weights(graph), tensors, source, origin, graph.name);
  NameScope names;
  Model model(graph);
  load_from(model.weights(), tensors, source, origin, model.name());
  return model;
}
}  // namespace

nlohmann::json Model::config() const {
  nlohmann::json layers = nlohmann::json::array();
  for (const CallPtr& c : calls_) {
    nlohmann::json inbound = nlohmann::json::array();
    for (const SymbolicTensor& t : c->inputs) inbound.push_back(t.name());
    layers.push_back({{"class_name", c->layer->class_name()},
                      {"name", c->layer->name()},
                      {"config", c->layer->config()},
                      {"inbound", inbound}});
  }
  nlohmann::json inputs = nlohmann::json::array(), outputs = nlohmann::json::array();
  for (size_t i : inputs_) inputs.push_back(calls_[i]->layer->name());
  for (size_t i : outputs_) outputs.push_back(calls_[i]->layer->name());
  return {{"format", kFormat}, {"version", 1}, {"name", name_},   {"seed", seed_},
          {"layers", layers},  {"inputs", inputs}, {"outputs", outputs}};
}

Model Model::from_config(const nlohmann::json& config) {
  NameScope names;  // building a Model resets the generated names; the caller's graph keeps its own
  return Model(graph_from_config(config));
}

ModelGraph Model::graph_from_config(const nlohmann::json& config) {
  try {
    if (config.value("format", "") != kFormat)
      throw std::invalid_argument("not a tapegrad model config (\"format\" is not \"" + std::string(kFormat) + "\")");
    NameScope names;  // rebuilding must not disturb the names of a graph the caller is building
    std::map<std::string, SymbolicTensor> tensors;
    auto find = [&](const std::string& name) {
      const auto it = tensors.find(name);
      if (it == tensors.end())
        throw std::invalid_argument("layer '" + name + "' is used before it is defined in the model config");
      return it->second;
    };
    for (const nlohmann::json& entry : config.at("layers")) {
      auto layer = layer_from_config(entry.at("class_name").get<std::string>(), entry.at("config"));
      layer->set_name(entry.at("name").get<std::string>());
      std::vector<SymbolicTensor> inbound;
      for (const nlohmann::json& n : entry.at("inbound")) inbound.push_back(find(n.get<std::string>()));
      const std::string name = layer->name();
      tensors[name] = connect(std::move(layer), std::move(inbound));
    }
    ModelGraph graph;
    for (const nlohmann::json& n : config.at("inputs")) graph.inputs.push_back(find(n.get<std::string>()));
    for (const nlohmann::json& n : config.at("outputs")) graph.outputs.push_back(find(n.get<std::string>()));
    graph.seed = config.at("seed").get<uint64_t>();
    graph.name = config.at("name").get<std::string>();
    return graph;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("Model::from_config: malformed config: ") + e.what());
  }
}

std::vector<NamedTensor> Model::weight_tensors() const {
  std::vector<NamedTensor> tensors;
  for (const Weight& w : weights()) tensors.push_back({w.name, w.variable.value()});
  return tensors;
}

void Model::save_weights(const std::filesystem::path& path) const {
  save_safetensors(path, weight_tensors(), {{kConfigKey, config().dump()}});
}

void Model::load_weights(const std::filesystem::path& path) {
  const SafetensorsFile file = load_safetensors(path);
  load_from(weights(), file.tensors, file.path.string(), saved_from(file), name_);
}

void Model::load_weights(const std::vector<NamedTensor>& tensors, const std::string& source) {
  load_from(weights(), tensors, source, "", name_);
}

Model Model::from_config(const nlohmann::json& config, const std::vector<NamedTensor>& tensors,
                         const std::string& source) {
  return build_loaded(graph_from_config(config), tensors, source, "");
}

Model load_model(const std::filesystem::path& path) {
  const SafetensorsFile file = load_safetensors(path);
  const auto it = file.metadata.find(kConfigKey);
  if (it == file.metadata.end())
    throw std::runtime_error(path.string() + ": has no model config (__metadata__[\"" + kConfigKey +
                             "\"]), so it was not written by Model::save_weights; build the model in code and "
                             "call load_weights instead");
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path.string() + ": corrupt model config in __metadata__: " + e.what());
  }
  std::optional<ModelGraph> graph;
  try {
    graph.emplace(Model::graph_from_config(config));
  } catch (const std::invalid_argument& e) {  // the type callers (and tests) tell config errors by
    throw std::invalid_argument(path.string() + ": its model config cannot be built: " + e.what());
  } catch (const std::exception& e) {
    throw std::runtime_error(path.string() + ": its model config cannot be built: " + e.what());
  }
  return build_loaded(*graph, file.tensors, file.path.string(), saved_from(file));
}

}  // namespace tg
