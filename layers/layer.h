// Layer, the base of every Keras layer class: its name, shape rule, weights, forward pass and config.
//
// A layer object is a description (its Keras arguments). Calling it on symbolic tensors (layers/layer_builder.h)
// copies it into the graph (layers/graph.h), gives it a name when it has none (`conv2d`, `conv2d_1`, ...), and
// infers its output shape right away. Weights are created when a Model is built from the graph (layers/model.h).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include "autograd/batch_parts.h"
#include "autograd/parameter.h"
#include "autograd/random/rng.h"
#include "autograd/tensor.h"
#include "autograd/variable.h"

namespace tg {

// A named weight of a layer ("conv2d_3/kernel", "batch_normalization/moving_mean"): the Parameter optimizers take.
// Trainable weights get gradients; non-trainable ones (BN moving statistics) do not.
using Weight = Parameter;

// A weight as build() declares it, before any storage exists: its full name, shape and whether it trains.
struct WeightSpec {
  std::string name;
  Shape shape;
  bool trainable = true;
};

// A graph that cannot be built: the message names the layer, its inputs, their shapes and the way out.
class ShapeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Thrown by a join (Concatenate, Add) whose inputs differ along `axes` (batch axis excluded).
class JoinMismatch : public ShapeError {
 public:
  JoinMismatch(const std::string& what, std::vector<int> axes) : ShapeError(what), axes(std::move(axes)) {}
  std::vector<int> axes;
};

// What a layer's forward pass needs besides its inputs.
struct CallContext {
  bool training = false;
  Rng* rng = nullptr;            // Dropout masks
  bool skip_activation = false;  // return the pre-activation output (Model::forward_logits)
  // BatchNormalization in training: the batch is this replica's share of one split among replicas, whose
  // statistics it takes together (Model::set_batch_parts); null: the batch it is given.
  const BatchParts* batch_parts = nullptr;
  // With batch_parts, one generator per local part: Dropout draws each part's mask from its own, as when the part
  // runs alone, so the masks follow the samples whoever runs them. Empty: all from `rng`.
  std::span<Rng> part_rngs;
};

class Layer {
 public:
  virtual ~Layer() = default;

  virtual std::string class_name() const = 0;  // as Keras prints it: "Conv2D"
  virtual std::string base_name() const = 0;   // stem of generated names: "conv2d"
  const std::string& name() const { return name_; }
  void set_name(std::string name);  // before the layer joins a graph

  // The output shape (batch axis excluded) for these input shapes. Throws ShapeError with a sentence saying what
  // does not fit; the caller adds the layer's name and its inputs.
  virtual Shape output_shape(const std::vector<Shape>& inputs) const = 0;
  // Creates the weights (float32, zero) for these input shapes; called once, when a Model is built.
  virtual void build(const std::vector<Shape>& /*inputs*/) {}
  virtual Variable call(const std::vector<Variable>& inputs, CallContext& context) const = 0;

  // The Keras arguments that rebuild this layer (its name excluded), and the activation it ends with.
  virtual nlohmann::json config() const = 0;
  virtual std::string activation() const { return "linear"; }
  // Padding applied for these inputs, as the summary prints it ("(0, 1, 0, 1)"); empty where padding means nothing.
  virtual std::string padding_note(const std::vector<Shape>& /*inputs*/) const { return ""; }
  // Stride with which the layer shrinks height and width (1 when it does not): input sizes it divides exactly
  // are the ones suggested when skips do not line up.
  virtual std::array<int, 2> downsampling() const { return {1, 1}; }
  // Factor by which the layer enlarges height and width (UpSampling2D's size, Conv2DTranspose's strides).
  virtual std::array<int, 2> upsampling() const { return {1, 1}; }
  // True for layers that keep their input's shape and meaning (BatchNormalization, Dropout, Activation): error
  // messages describe their outputs by the layer they follow.
  virtual bool passes_through() const { return false; }

  // Joining a graph (layers/graph.h's connect): names the layer when it has no name (`conv2d`, `conv2d_1`, ...,
  // skipping `taken`), or throws when its name is in `taken` (the layers it depends on); afterwards it cannot
  // be renamed.
  void join_graph(const std::unordered_set<std::string>& taken);

  bool built() const { return built_; }
  // Builds the weights for these input shapes unless already built; true when it built them now.
  bool ensure_built(const std::vector<Shape>& inputs);
  std::vector<Weight>& weights() { return weights_; }
  const std::vector<Weight>& weights() const { return weights_; }
  int64_t count_params() const;
  // The weights build() creates for these input shapes, without allocating any (build() runs with add_weight
  // only recording): what a graph's summary and the checks before loading a file read. A built layer lists its own.
  std::vector<WeightSpec> weight_specs(const std::vector<Shape>& inputs);
  // Draws every weight from its initializer with streams derived from (seed, index).
  void initialize(uint64_t seed, uint64_t index);

 protected:
  // Adds a weight named "<layer>/<short_name>" drawn by `initializer` (layers/initializers.h).
  Variable add_weight(const std::string& short_name, Shape shape, bool trainable, const std::string& initializer);
  const Variable& weight(size_t i) const { return weights_.at(i).variable; }

 private:
  std::string name_;
  bool built_ = false;
  bool connected_ = false;
  std::vector<WeightSpec>* planning_ = nullptr;  // set while weight_specs() runs build()
  std::vector<Weight> weights_;
  std::vector<std::string> initializers_;  // one per weight
};

// Generated names restart with every model (as in a fresh Keras session), so a model built twice gets the same
// names and its weight files stay loadable. Model's constructor calls this; NameScope isolates a builder's names.
void reset_layer_names();
class NameScope {
 public:
  NameScope();
  ~NameScope();
  NameScope(const NameScope&) = delete;
  NameScope& operator=(const NameScope&) = delete;

 private:
  std::vector<std::pair<std::string, int>> saved_;
};

// "(None, 128, 128, 64)", Keras's way of printing a shape with its batch axis.
std::string keras_shape(const Shape& shape_without_batch);

}  // namespace tg
