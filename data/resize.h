// Geometry shared by preprocessing and augmentation. Images are [H, W, C] float32 tensors, label maps [H, W].
// Single-threaded on purpose: loader workers run one sample each, and nested OpenMP teams would oversubscribe.
#pragma once
#include "autograd/tensor.h"

namespace tg::data {

// Bilinear with half-pixel centres (tf.image.resize / PyTorch align_corners=False, no antialiasing): source
// coordinate = (dst + 0.5) * in / out - 0.5, clamped at the borders. Halving a size averages 2x2 blocks.
Tensor resize_bilinear(const Tensor& image, int out_h, int out_w);

// Nearest neighbour for label maps ([H, W]) or images: source = floor((dst + 0.5) * in / out), as PIL and
// tf.image.resize's nearest with half-pixel centres. Class ids stay exact. `phase_y`, `phase_x` in [0, 1) replace the
// 0.5: which pixel of each source cell is read (0 = its first; a shift of less than one destination pixel).
Tensor resize_nearest(const Tensor& t, int out_h, int out_w, double phase_y = 0.5, double phase_x = 0.5);

// How an image is brought to another size (label maps are always nearest, so class ids stay exact).
enum class Interpolation {
  Bilinear,  // half-pixel centres; halving a size averages 2x2 blocks
  // The pixel whose centre is nearest, as Keras's flow_from_directory (its default) and the Keras membrane U-Net
  // resize: image and mask then sample the same source pixel, so a 1-pixel membrane is in both or in neither.
  Nearest,
};
Tensor resize_image(const Tensor& image, int out_h, int out_w, Interpolation how);

// Rows [top, top + h) and columns [left, left + w) of an [H, W] or [H, W, C] tensor (a copy).
Tensor crop(const Tensor& t, int top, int left, int h, int w);

// The tensor mirrored outwards by `top`, `bottom`, `left` and `right` pixels, edge pixels repeated
// (d c b a | a b c d | d c b a, numpy's 'symmetric'; augment's FillMode::Reflect): the U-Net paper's overlap-tile
// context for pixels near the border. Margins beyond the size keep mirroring back and forth.
Tensor pad_mirrored(const Tensor& t, int top, int bottom, int left, int right);
// The index pad_mirrored reads for position i (any integer) of an axis of n pixels.
int mirrored_index(int i, int n);

}  // namespace tg::data
