// A functional Model: the graph of layer calls between Input()s and outputs, executed in topological order.
//
//   auto x = tg::Input({256, 256, 1});
//   auto y = tg::Conv2D(2, 1).activation("softmax")(tg::Conv2D(64, 3).activation("relu").padding("same")(x));
//   tg::Model model(x, y);                 // builds and initialises the weights (seeded, deterministic)
//   tg::Variable probs = model(batch);     // batch [N, 256, 256, 1]
//
// Weights are float32 for training; model.to(DType::F64) converts them in place for gradient checks. The model is
// in inference mode until train() (Dropout off, BatchNormalization on its moving statistics). predict() always
// runs in inference mode and leaves the mode as it found it.
#pragma once
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "autograd/io/safetensors.h"
#include "autograd/random/rng.h"
#include "autograd/variable.h"
#include "layers/fusion.h"
#include "layers/graph.h"
#include "layers/layer.h"

namespace tg {

// A functional graph with the seed and name of the Model built from it. Building a Model allocates and draws every
// weight; the graph alone answers summary() and planned_weights(), so a model too large to allocate can still be
// inspected, and a file's tensors can be checked against it before anything is allocated.
struct ModelGraph {
  std::vector<SymbolicTensor> inputs, outputs;
  uint64_t seed = 0;
  std::string name = "model";
};
// Model(graph).summary(), without building the model.
std::string summary(const ModelGraph& graph);
// Model(graph).weights()' names, shapes and trainability, in the same order, without allocating them.
std::vector<WeightSpec> planned_weights(const ModelGraph& graph);

class Model {
 public:
  explicit Model(const ModelGraph& graph);
  Model(const SymbolicTensor& input, const SymbolicTensor& output, uint64_t seed = 0, std::string name = "model");
  Model(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs, uint64_t seed = 0,
        std::string name = "model");
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  Model(const Model&) = delete;  // a copy would silently share the weights
  Model& operator=(const Model&) = delete;
  ~Model();

  Variable forward(const Variable& x);  // single input, single output
  std::vector<Variable> forward(const std::vector<Variable>& xs);
  Variable operator()(const Variable& x) { return forward(x); }

  // The single output before the output layer's activation, so a loss can use the stable from_logits path as
  // Keras does inside fit; output_activation() names the activation skipped ("softmax", "sigmoid", "linear").
  Variable forward_logits(const Variable& x);
  std::string output_activation() const;

  void train() { training_ = true; }
  void eval() { training_ = false; }
  bool training() const { return training_; }

  // Every weight in layer order, then each layer's own order (stable across builds of the same architecture).
  std::vector<Weight> weights() const;
  std::vector<Weight> trainable_weights() const;
  std::vector<Weight> non_trainable_weights() const;
  // What an optimizer updates (PyTorch's model.parameters()): the trainable weights, e.g.
  // `tg::Adam optimizer(model.parameters());`.
  std::vector<Parameter> parameters() const { return trainable_weights(); }
  int64_t count_params() const;
  int64_t count_trainable_params() const;

  // Dropout layers draw their masks from this generator, in graph order.
  Rng& rng() { return rng_; }
  // While set, BatchNormalization layers in training take their statistics over the whole of a batch split among
  // replicas, of which each forward pass holds this replica's parts (autograd/batch_parts.h; train/ sets it for
  // --sync-bn). Null (the default): over the batch each forward pass is given.
  // `part_rngs` (one per local part, or none): the generators Dropout layers then draw each part's mask from.
  void set_batch_parts(const BatchParts* parts, std::span<Rng> part_rngs = {}) {
    batch_parts_ = parts;
    part_rngs_ = part_rngs;
  }

  const Shape& input_shape() const;  // without the batch axis; single-input models
  Shape output_shape() const;        // without the batch axis; single-output models
  std::vector<Shape> input_shapes() const;
  std::vector<Shape> output_shapes() const;
  const std::string& name() const { return name_; }
  uint64_t seed() const { return seed_; }

  // The Keras table: layer (type), output shape, params, padding applied by 'same' layers, connected to; totals.
  // summary() returns it; print_summary() prints it (Keras's model.summary() prints, through print_fn).
  [[nodiscard]] std::string summary() const;
  void print_summary(std::ostream& out = std::cout) const;

  // Keras's model.predict: the outputs for `inputs` [N, ...], batch_size samples at a time, in inference mode
  // (Dropout off, BatchNormalization on its moving statistics, which stay as they are) and without recording a
  // graph; the model's mode is restored afterwards. Single-input, single-output models.
  Tensor predict(const Tensor& inputs, int64_t batch_size = 32);

  nlohmann::json config() const;  // architecture and seed, enough to rebuild
  static Model from_config(const nlohmann::json& config);
  static ModelGraph graph_from_config(const nlohmann::json& config);  // the graph from_config builds
  // The model of `config` holding `tensors` (a checkpoint's), which are checked against the config's weights before
  // the model is built: a file whose tensors do not fit is refused before anything is allocated.
  static Model from_config(const nlohmann::json& config, const std::vector<NamedTensor>& tensors,
                           const std::string& source);

  // safetensors: tensors named like Weight::name (kernels HWIO), config under __metadata__["tapegrad.model"].
  void save_weights(const std::filesystem::path& path) const;
  // Errors name the file and the first tensor that is missing, extra or of another shape.
  void load_weights(const std::filesystem::path& path);
  // The weights as named tensors sharing the model's storage, in weights() order: what save_weights writes and a
  // training checkpoint holds (clone them for a copy that later training leaves alone).
  std::vector<NamedTensor> weight_tensors() const;
  // Copies every weight from `tensors` (a checkpoint's "optimizer/..." entries are left aside), checking all of them
  // first, so a failure changes nothing; errors name `source` and the first tensor missing, extra or misshapen.
  void load_weights(const std::vector<NamedTensor>& tensors, const std::string& source);

  // Re-draws every weight from its initializer with streams derived from (seed, layer index).
  void initialize(uint64_t seed);
  DType dtype() const { return dtype_; }
  void to(DType dtype);  // converts every weight in place (gradients dropped)

  // Makes the model compute with these Variables as its trainable weights (in trainable_weights() order, same
  // shapes and dtype), e.g. the inputs gradcheck hands its function, so gradients reach them.
  void bind_trainable_weights(const std::vector<Variable>& variables);

  std::vector<std::shared_ptr<Layer>> layers() const;  // in topological order, Input layers included
  Layer& layer(std::string_view name) const;

  // Called after each layer's forward pass with its inputs, output and wall time (per-layer timing and FLOP tables).
  using LayerHook = std::function<void(const Layer& layer, const std::vector<Variable>& inputs,
                                       const Variable& output, double seconds)>;
  // every_layer: each layer with its own inputs and output, so while the hook is set the model runs unfused
  // (layers/fusion.h). as_run: each call as the model runs it, fused: a fused Conv2D with the inputs its op reads
  // (those of the UpSampling2D or Concatenate before it), which get no call of their own; what timing tables want.
  enum class HookCalls { every_layer, as_run };
  void set_layer_hook(LayerHook hook, HookCalls calls = HookCalls::every_layer) {
    hook_ = std::move(hook);
    hook_calls_ = calls;
  }

  // Whether the decoder's layer pairs run as fused ops (layers/fusion.h): same layers, weights and values to float32
  // rounding, less memory and time. On unless TAPEGRAD_FUSION=off (or an every_layer hook is set).
  void set_fusion(bool on) { fusion_ = on; }
  bool fusion() const { return fusion_; }
  const FusionPlan& fusion_plan() const { return fusion_plan_; }  // per call, in layers() order

 private:
  std::vector<Variable> run(const std::vector<Variable>& xs, bool logits);
  const LayerCall& single_output(const char* what) const;

  std::vector<CallPtr> calls_;                // topological order
  std::vector<std::vector<size_t>> sources_;  // per call: indices of its inputs in calls_
  std::vector<size_t> last_use_;              // per call: index of the last call that reads it
  std::vector<size_t> inputs_, outputs_;      // indices in calls_
  FusionPlan fusion_plan_;
  bool fusion_ = true;
  std::string name_;
  uint64_t seed_ = 0;
  bool training_ = false;
  DType dtype_ = DType::F32;
  Rng rng_;
  const BatchParts* batch_parts_ = nullptr;
  std::span<Rng> part_rngs_;
  LayerHook hook_;
  HookCalls hook_calls_ = HookCalls::every_layer;
};

// Rebuilds a model from a file written by save_weights or a training checkpoint (no code needed) and loads its
// weights; a checkpoint's optimizer state is left aside.
Model load_model(const std::filesystem::path& path);

}  // namespace tg
