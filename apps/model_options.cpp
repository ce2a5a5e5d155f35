#include "apps/model_options.h"

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

Model build_model(const ModelOptions& o) {
  if (o.model == "autoencoder")  // the corrected seed build_model with a segmentation head
    return seed_autoencoder(o.input_shape(), /*corrected=*/true, o.seed, o.resolved_filters(), o.classes,
                            o.classes == 1 ? "sigmoid" : "softmax");
  return unet(o.input_shape(), o.classes, o.resolved_filters(), o.depth, o.dropout, o.batch_norm, o.seed);
}

}  // namespace tg::app
