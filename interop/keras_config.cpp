#include "interop/keras_config.h"

#include <map>
#include <regex>
#include <set>
#include <stdexcept>

namespace tg::interop {

namespace {

using nlohmann::json;

// The Keras classes tapegrad has (layers/registry.cpp), and the few Keras layer classes that are one of them.
const std::set<std::string>& supported_classes() {
  static const std::set<std::string> classes = {
      "InputLayer", "Conv2D", "Conv2DTranspose", "BatchNormalization", "Dropout", "MaxPooling2D", "AveragePooling2D",
      "UpSampling2D", "Concatenate", "Add", "Activation", "ReLU", "Softmax"};
  return classes;
}

std::string supported_list() {
  std::string list;
  for (const std::string& c : supported_classes()) list += (list.empty() ? "" : ", ") + c;
  return list;
}

class LayerTranslator {
 public:
  LayerTranslator(const std::string& source, const std::string& name, const std::string& keras_class,
                  const json& config, std::vector<std::string>& notes)
      : source_(source), name_(name), class_(keras_class), config_(config), notes_(notes) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument(source_ + ": layer '" + name_ + "' (" + class_ + ") " + what);
  }

  const json& at(const char* key) const {
    if (!config_.contains(key)) fail("has no \"" + std::string(key) + "\" in its config");
    return config_.at(key);
  }

  // Keras writes pairs as [a, b] and accepts a single int for both.
  json pair(const char* key) const {
    const json& v = at(key);
    if (v.is_number_integer()) return json::array({v, v});
    if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer()) return v;
    fail("has " + std::string(key) + " " + v.dump() + ", expected two integers");
  }

  void require_channels_last() const {
    if (config_.contains("data_format") && !config_["data_format"].is_null() &&
        config_["data_format"] != "channels_last")
      fail("uses data_format " + config_["data_format"].dump() +
           "; tapegrad computes channels_last (NHWC) only, as Keras does by default");
  }

  // "relu", or a Keras 3 serialized activation function.
  std::string activation(const char* key = "activation") const {
    const json& v = at(key);
    if (v.is_null()) return "linear";
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("config") && v["config"].is_string()) return v["config"].get<std::string>();
    fail("has an activation tapegrad cannot read: " + v.dump());
  }

  // Initializers matter only when tapegrad re-draws the weights; the imported values are what the model starts from.
  std::string initializer(const char* key, const std::string& fallback) const {
    static const std::map<std::string, std::string> by_class = {
        {"HeNormal", "he_normal"},         {"HeUniform", "he_uniform"},       {"GlorotUniform", "glorot_uniform"},
        {"GlorotNormal", "glorot_normal"}, {"LecunNormal", "lecun_normal"},   {"LecunUniform", "lecun_uniform"},
        {"Zeros", "zeros"},                {"Ones", "ones"},                  {"he_normal", "he_normal"},
        {"he_uniform", "he_uniform"},      {"glorot_uniform", "glorot_uniform"}, {"glorot_normal", "glorot_normal"},
        {"lecun_normal", "lecun_normal"},  {"lecun_uniform", "lecun_uniform"}, {"zeros", "zeros"},
        {"ones", "ones"}};
    if (!config_.contains(key) || config_[key].is_null()) return fallback;
    const json& v = config_[key];
    const std::string cls = v.is_string() ? v.get<std::string>() : v.value("class_name", std::string());
    if (const auto it = by_class.find(cls); it != by_class.end()) return it->second;
    notes_.push_back("layer '" + name_ + "': " + key + " " + (cls.empty() ? v.dump() : cls) +
                     " has no tapegrad counterpart; " + fallback + " is recorded (used only if the model is "
                     "re-initialised)");
    return fallback;
  }

  void note_unapplied(std::initializer_list<const char*> keys) const {
    for (const char* key : keys)
      if (config_.contains(key) && !config_[key].is_null())
        notes_.push_back("layer '" + name_ + "': " + key + " " + config_[key].dump() +
                         " is not applied when tapegrad trains the model");
  }

  json conv() const {
    require_channels_last();
    if (config_.contains("groups") && config_["groups"] != 1) fail("has groups " + config_["groups"].dump() +
                                                                   "; tapegrad has no grouped convolutions");
    note_unapplied({"kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
                    "bias_constraint"});
    json c = {{"filters", at("filters")},
              {"kernel_size", pair("kernel_size")},
              {"strides", pair("strides")},
              {"padding", at("padding")},
              {"dilation_rate", pair("dilation_rate")},
              {"activation", activation()},
              {"use_bias", at("use_bias")},
              {"kernel_initializer", initializer("kernel_initializer", "glorot_uniform")},
              {"bias_initializer", initializer("bias_initializer", "zeros")}};
    if (class_ == "Conv2DTranspose")
      c["output_padding"] = config_.contains("output_padding") && !config_["output_padding"].is_null()
                                ? pair("output_padding")
                                : json::array({-1, -1});
    return c;
  }

  json batch_norm(int keras_major) const {
    json axis = at("axis");
    if (axis.is_array()) {
      if (axis.size() != 1) fail("normalises over several axes " + axis.dump() + "; tapegrad normalises one");
      axis = axis[0];
    }
    if (config_.contains("renorm") && config_["renorm"] == true) fail("uses renorm, which tapegrad lacks");
    if (config_.contains("virtual_batch_size") && !config_["virtual_batch_size"].is_null())
      fail("uses virtual_batch_size, which tapegrad lacks");
    note_unapplied({"beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"});
    return {{"axis", axis},
            {"momentum", at("momentum")},
            {"epsilon", at("epsilon")},
            {"center", at("center")},
            {"scale", at("scale")},
            {"beta_initializer", initializer("beta_initializer", "zeros")},
            {"gamma_initializer", initializer("gamma_initializer", "ones")},
            {"moving_mean_initializer", initializer("moving_mean_initializer", "zeros")},
            {"moving_variance_initializer", initializer("moving_variance_initializer", "ones")},
            // tf.keras 2 feeds the Bessel-corrected batch variance into the moving variance; Keras 3 does not.
            {"unbiased_moving_variance", keras_major < 3}};
  }

  json pooling() const {
    require_channels_last();
    const json size = pair("pool_size");
    const bool no_strides = !config_.contains("strides") || config_["strides"].is_null();
    return {{"pool_size", size}, {"strides", no_strides ? size : pair("strides")}, {"padding", at("padding")}};
  }

  json input(const Shape& override_shape) const {
    const json& batch_shape = config_.contains("batch_input_shape") ? config_["batch_input_shape"]
                              : config_.contains("batch_shape")     ? config_["batch_shape"]
                                                                    : at("batch_input_shape");
    if (!batch_shape.is_array() || batch_shape.size() != 4)
      fail("has input shape " + batch_shape.dump() + "; tapegrad's models take images (batch, height, width, "
           "channels)");
    Shape shape;
    for (size_t i = 1; i < 4; ++i) {
      if (batch_shape[i].is_number_integer()) {
        shape.push_back(batch_shape[i].get<int64_t>());
        if (!override_shape.empty() && override_shape[i - 1] != shape.back())
          fail("has input shape " + batch_shape.dump() + ", which --input " + shape_str(override_shape) +
               " contradicts");
      } else if (!override_shape.empty()) {
        shape.push_back(override_shape[i - 1]);
      } else {
        fail("leaves input sizes open " + batch_shape.dump() + "; tapegrad builds models for fixed sizes: give "
             "them (--input H,W,C, KerasImportOptions::input_shape)");
      }
    }
    return {{"shape", shape}};
  }

 private:
  std::string source_, name_, class_;
  const json& config_;
  std::vector<std::string>& notes_;
};

// The tapegrad class and config for one Keras layer.
std::pair<std::string, json> translate_layer(const LayerTranslator& t, const std::string& keras_class,
                                             const json& config, int keras_major, const Shape& input_shape) {
  if (keras_class == "InputLayer") return {"InputLayer", t.input(input_shape)};
  if (keras_class == "Conv2D" || keras_class == "Conv2DTranspose") return {keras_class, t.conv()};
  if (keras_class == "BatchNormalization") return {keras_class, t.batch_norm(keras_major)};
  if (keras_class == "MaxPooling2D" || keras_class == "AveragePooling2D") return {keras_class, t.pooling()};
  if (keras_class == "UpSampling2D") {
    t.require_channels_last();
    return {keras_class, {{"size", t.pair("size")}, {"interpolation", config.value("interpolation", "nearest")}}};
  }
  if (keras_class == "Concatenate") return {keras_class, {{"axis", t.at("axis")}}};
  if (keras_class == "Add") return {keras_class, json::object()};
  if (keras_class == "Dropout") {
    if (config.contains("noise_shape") && !config["noise_shape"].is_null())
      t.fail("has a noise_shape; tapegrad's Dropout drops elements independently");
    return {keras_class, {{"rate", t.at("rate")}}};
  }
  if (keras_class == "Activation") return {keras_class, {{"activation", t.activation()}}};
  if (keras_class == "ReLU") {
    const bool plain = config.value("max_value", json()).is_null() && config.value("negative_slope", 0.0) == 0.0 &&
                       config.value("threshold", 0.0) == 0.0;
    if (!plain) t.fail("has max_value, negative_slope or threshold; tapegrad's relu is the plain one");
    return {"Activation", {{"activation", "relu"}}};
  }
  if (keras_class == "Softmax") {
    const json axis = config.value("axis", json(-1));
    if (axis != -1 && axis != json::array({-1})) t.fail("takes the softmax over axis " + axis.dump() +
                                                        "; tapegrad's softmax is over the last axis");
    return {"Activation", {{"activation", "softmax"}}};
  }
  t.fail("is a layer class tapegrad does not have; it has " + supported_list());
}

// [layer_name, node_index, tensor_index(, kwargs)]: Keras 2's reference to a layer's output.
bool is_tensor_ref(const json& v) {
  return v.is_array() && v.size() >= 3 && v[0].is_string() && v[1].is_number_integer() && v[2].is_number_integer();
}

// Keras 3's reference: {"class_name": "__keras_tensor__", "config": {"keras_history": [name, node, index]}}.
const json* keras3_history(const json& v) {
  if (!v.is_object() || v.value("class_name", "") != "__keras_tensor__" || !v.contains("config")) return nullptr;
  const json& c = v["config"];
  return c.contains("keras_history") && is_tensor_ref(c["keras_history"]) ? &c["keras_history"] : nullptr;
}

// Every tensor reference in a node or a structure of them, in order.
void collect_refs(const json& v, std::vector<const json*>& out) {
  if (const json* h = keras3_history(v)) {
    out.push_back(h);
  } else if (is_tensor_ref(v)) {
    out.push_back(&v);
  } else if (v.is_array()) {
    for (const json& x : v) collect_refs(x, out);
  } else if (v.is_object()) {
    if (v.contains("args")) collect_refs(v["args"], out);  // Keras 3 node: {"args": [...], "kwargs": {...}}
    else
      for (const auto& [key, x] : v.items()) collect_refs(x, out);
  }
}

std::string layer_name_of(const json& entry) {
  if (entry.contains("name") && entry["name"].is_string()) return entry["name"].get<std::string>();
  if (entry.contains("config") && entry["config"].is_object() && entry["config"].contains("name"))
    return entry["config"]["name"].get<std::string>();
  return "";
}

// The names a node's references point at, each checked to be a layer's first output.
std::vector<std::string> ref_names(const json& v, const std::string& source, const std::string& who) {
  std::vector<const json*> refs;
  collect_refs(v, refs);
  std::vector<std::string> names;
  for (const json* r : refs) {
    if ((*r)[1] != 0 || (*r)[2] != 0)
      throw std::invalid_argument(source + ": " + who + " uses output " + r->dump() +
                                  ", a second call or output of a layer; tapegrad's layers are called once and "
                                  "have one output");
    names.push_back((*r)[0].get<std::string>());
  }
  return names;
}

TranslatedModel translate_checked(const json& keras, const std::string& source, int keras_major,
                                  const Shape& input_shape) {
  if (!keras.is_object() || !keras.contains("class_name") || !keras.contains("config") ||
      !keras["config"].is_object() || !keras["config"].contains("layers") || !keras["config"]["layers"].is_array())
    throw std::invalid_argument(source + ": the model config is not a Keras model (no class_name, config.layers)");
  const std::string model_class = keras["class_name"].get<std::string>();
  const bool sequential = model_class == "Sequential";
  if (!sequential && model_class != "Functional" && model_class != "Model")
    throw std::invalid_argument(source + ": the model is a '" + model_class +
                                "'; tapegrad reads Functional and Sequential models (a subclassed model has no "
                                "config to rebuild it from)");
  const json& kconfig = keras["config"];
  TranslatedModel out;
  json layers = json::array();
  std::set<std::string> defined;
  std::string previous;  // Sequential: each layer reads the one before it
  for (const json& entry : kconfig["layers"]) {
    if (!entry.is_object() || !entry.contains("class_name") || !entry.contains("config"))
      throw std::invalid_argument(source + ": a layer entry of the model config has no class_name or config");
    const std::string keras_class = entry["class_name"].get<std::string>();
    const std::string name = layer_name_of(entry);
    if (name.empty()) throw std::invalid_argument(source + ": a " + keras_class + " layer has no name");
    const json& config = entry["config"];
    // Keras 2 Sequential models may start without an InputLayer, their input shape on the first layer.
    if (sequential && previous.empty() && keras_class != "InputLayer") {
      const json input_config = {{"batch_input_shape", config.contains("batch_input_shape")
                                                     ? config["batch_input_shape"]
                                                     : kconfig.value("build_input_shape", json())}};
      std::string input_name = "input_1";
      LayerTranslator t(source, input_name, "InputLayer", input_config, out.notes);
      layers.push_back({{"class_name", "InputLayer"}, {"name", input_name}, {"config", t.input(input_shape)},
                        {"inbound", json::array()}});
      defined.insert(input_name);
      previous = input_name;
    }
    std::vector<std::string> inbound;
    if (sequential) {
      if (!previous.empty()) inbound.push_back(previous);
    } else if (entry.contains("inbound_nodes")) {
      const json& nodes = entry["inbound_nodes"];
      if (nodes.is_array() && nodes.size() > 1)
        throw std::invalid_argument(source + ": layer '" + name + "' (" + keras_class + ") is called " +
                                    std::to_string(nodes.size()) + " times (a shared layer); tapegrad's layers are "
                                    "called once");
      if (nodes.is_array() && nodes.size() == 1) inbound = ref_names(nodes[0], source, "layer '" + name + "'");
    }
    for (const std::string& n : inbound)
      if (!defined.count(n))
        throw std::invalid_argument(source + ": layer '" + name + "' reads '" + n +
                                    "', which the config does not define before it");
    LayerTranslator t(source, name, keras_class, config, out.notes);
    auto [tg_class, tg_config] = translate_layer(t, keras_class, config, keras_major, input_shape);
    layers.push_back({{"class_name", tg_class}, {"name", name}, {"config", tg_config}, {"inbound", inbound}});
    out.layers.push_back({name, keras_class});
    defined.insert(name);
    previous = name;
  }
  if (layers.empty()) throw std::invalid_argument(source + ": the model config has no layers");
  json inputs = json::array(), outputs = json::array();
  if (sequential) {
    inputs.push_back(layers.front()["name"]);
    outputs.push_back(layers.back()["name"]);
  } else {
    for (const std::string& n : ref_names(kconfig.value("input_layers", json::array()), source, "the model input"))
      inputs.push_back(n);
    for (const std::string& n : ref_names(kconfig.value("output_layers", json::array()), source, "the model output"))
      outputs.push_back(n);
    if (inputs.empty() || outputs.empty())
      throw std::invalid_argument(source + ": the model config names no input_layers or output_layers");
  }
  out.config = {{"format", "tapegrad.functional"},
                {"version", 1},
                {"name", kconfig.value("name", std::string("model"))},
                {"seed", 0},
                {"layers", layers},
                {"inputs", inputs},
                {"outputs", outputs}};
  return out;
}

}  // namespace

std::string keras_snake_case(const std::string& class_name) {
  std::string name = std::regex_replace(class_name, std::regex("\\W+"), "");
  name = std::regex_replace(name, std::regex("(.)([A-Z][a-z]+)"), "$1_$2");
  name = std::regex_replace(name, std::regex("([a-z])([A-Z])"), "$1_$2");
  for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return name;
}

TranslatedModel translate_keras_model(const json& keras, const std::string& source, int keras_major,
                                      const Shape& input_shape) {
  try {
    return translate_checked(keras, source, keras_major, input_shape);
  } catch (const nlohmann::json::exception& e) {  // a value of the wrong type where Keras writes another
    throw std::invalid_argument(source + ": malformed Keras model config: " + e.what());
  }
}

}  // namespace tg::interop
