// Whole-image inference with a model of fixed input size: images of another size are either tiled (overlapping
// model-sized windows, blended, so a 512x512 image works with a model trained at 256x256) or resized to the input
// size and the probabilities resized back (for models trained on downscaled images).
//
//   tg::Model model = tg::load_model("runs/membrane/checkpoints/best.safetensors");
//   tg::Tensor probs = tg::train::predict_image(model, image);   // image [H, W, C] -> probabilities [H, W, K]
//   tg::Tensor classes = tg::argmax(probs);                       // [H, W] class ids
//
// For batches already at the model's input size, Model::predict is all there is to it.
#pragma once
#include "autograd/argmax.h"
#include "autograd/tensor.h"
#include "data/resize.h"
#include "layers/model.h"

namespace tg::train {

enum class ImageFit {
  Tile,    // overlapping windows at full resolution, blended where they overlap
  Resize,  // to the input size (PredictImageOptions::interpolation), and the probabilities bilinear back
};

struct PredictImageOptions {
  ImageFit fit = ImageFit::Tile;
  data::Interpolation interpolation = data::Interpolation::Bilinear;  // ImageFit::Resize: as the model was trained
  int overlap = -1;         // pixels shared by neighbouring tiles; -1 = a quarter of the input size
  int tiles_per_batch = 4;  // windows run through the model together
  // Tile: the image is first mirrored outwards by this many pixels (the U-Net paper's overlap-tile strategy), so that
  // pixels near the border are predicted with context on every side; the margin is cropped from the result.
  int mirror_margin = 0;
  // Test-time augmentation: the probabilities averaged over the image as it is, flipped left-right, flipped
  // up-down and both, and for square inputs also the four transposed versions (8 in all), each mapped back.
  bool flips = false;
};

// image [H, W, C] float32 (as the model was trained on, e.g. [0, 1]) -> class probabilities [H, W, K] (K >= 2; a
// 1-channel sigmoid model gives [1 - p, p]). Runs through Model::predict: inference mode, no graph, the model's
// mode left as it was.
Tensor predict_image(Model& model, const Tensor& image, const PredictImageOptions& options = {});

}  // namespace tg::train
