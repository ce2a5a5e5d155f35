#include "apps/model_options.h"

#include <unistd.h>

#include <sstream>

#include "layers/zoo.h"

namespace tg::app {

Shape ModelOptions::input_shape() const {
  if (input.empty()) return {size, size, channels};
  Shape shape;
  std::stringstream in(input);
  std::string part;
  while (std::getline(in, part, ',')) {
    try {
      shape.push_back(std::stoll(part));
    } catch (const std::exception&) {
      throw std::invalid_argument("--input " + input + ": expected H,W,C such as 256,256,1");
    }
  }
  if (shape.size() != 3 || shape[0] <= 0 || shape[1] <= 0 || shape[2] <= 0)
    throw std::invalid_argument("--input " + input + ": expected three positive sizes H,W,C such as 256,256,1");
  return shape;
}

void add_model_options(CLI::App& cmd, ModelOptions& o) {
  cmd.add_option("--model", o.model, "unet (the seed U-Net) or autoencoder (the seed build_model, corrected, with a "
                                     "--classes softmax/sigmoid output)")
      ->capture_default_str()->check(CLI::IsMember({"unet", "autoencoder"}));
  cmd.add_option("--filters", o.filters, "Filters of the first level (default: the seed's, 64 for unet, 32 for "
                                         "autoencoder)")
      ->check(CLI::Range(1, 4096));
  cmd.add_option("--depth", o.depth, "U-Net levels (pooling steps)")->capture_default_str()->check(CLI::Range(1, 8));
  cmd.add_option("--size", o.size, "Input height and width")->capture_default_str()->check(CLI::Range(8, 8192));
  cmd.add_option("--channels", o.channels, "Input channels")->capture_default_str()->check(CLI::Range(1, 4));
  cmd.add_option("--classes", o.classes, "Output classes (1 = sigmoid, >= 2 = softmax)")
      ->capture_default_str()->check(CLI::Range(1, 255));
  cmd.add_option("--dropout", o.dropout, "Dropout rate after the two deepest blocks (0 = none)")
      ->capture_default_str()->check(CLI::Range(0.0, 0.99));
  cmd.add_flag("--batch-norm", o.batch_norm, "BatchNormalization after every 3x3 convolution");
}

ModelGraph model_graph(const ModelOptions& o) {
  if (o.model == "autoencoder")  // the corrected seed build_model with a segmentation head
    return seed_autoencoder_graph(o.input_shape(), /*corrected=*/true, o.seed, o.resolved_filters(), o.classes,
                                  o.classes == 1 ? "sigmoid" : "softmax");
  return unet_graph(o.input_shape(), o.classes, o.resolved_filters(), o.depth, o.dropout, o.batch_norm, o.seed);
}

Model build_model(const ModelOptions& o) {
  NameScope names;
  const ModelGraph graph = model_graph(o);
  int64_t params = 0;
  for (const WeightSpec& w : planned_weights(graph)) params += shape_numel(w.shape);
  // Weights, their gradients and Adam's two moments, before a single activation: a model that cannot hold even
  // these is refused by its size here instead of by std::bad_alloc after minutes of allocating.
  const double needed = 16.0 * double(params);
  const double memory = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
  if (memory > 0 && needed > memory)
    throw std::invalid_argument("--filters " + std::to_string(o.resolved_filters()) + ": the " + o.model + " has " +
                                std::to_string(params) + " parameters, whose weights, gradients and optimizer "
                                "state need " + std::to_string(int64_t(needed / 1e9)) + " GB; this machine has " +
                                std::to_string(int64_t(memory / 1e9)) + " GB. Use fewer --filters or a smaller --depth");
  return Model(graph);
}

}  // namespace tg::app
