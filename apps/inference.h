// Whole-image inference with a model of fixed input size: images of another size are either tiled (overlapping
// model-sized windows, blended, so a 512x512 image works with a model trained at 256x256) or resized to the
// input size and the probabilities resized back (for models trained on downscaled images).
#pragma once
#include <string>

#include "autograd/tensor.h"
#include "layers/model.h"

namespace tg::app {

enum class FitMode { Tile, Resize };
FitMode parse_fit_mode(const std::string& s);  // "tile" | "resize"

struct InferenceOptions {
  FitMode fit = FitMode::Tile;
  int overlap = -1;      // pixels shared by neighbouring tiles; -1 = a quarter of the input size
  int tiles_per_batch = 4;
};

// image [H, W, C] float32 in [0, 1] -> class probabilities [H, W, K] (K >= 2; a 1-channel sigmoid model gives
// [1 - p, p]). Runs the model in inference mode without recording gradients.
Tensor predict_probabilities(Model& model, const Tensor& image, const InferenceOptions& options);
// Probabilities [H, W, K] -> class ids [H, W] (argmax, ties to the lower class).
Tensor argmax_classes(const Tensor& probabilities);

}  // namespace tg::app
