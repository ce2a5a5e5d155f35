// Training-time augmentation. Image and label map go through the same geometric transform (the labels by
// nearest neighbour, so class ids stay exact); colour jitter touches the image only. Every random number
// comes from the generator passed in, so a sample's augmentation is a pure function of that generator.
#pragma once
#include "data/dataset.h"

namespace tg::data {

enum class FillMode {
  Nearest,   // repeat the edge pixel (Keras's default)
  Reflect,   // mirror about the edge (d c b a | a b c d | d c b a)
  Constant,  // fill_value in the image, mask_fill_value in the labels
};

struct AugmentOptions {
  bool horizontal_flip = false, vertical_flip = false;
  bool rotate90 = false;     // k * 90 degrees, k uniform in 0..3 (0 or 2 when the input is not square)
  double crop_scale = 1.0;   // random crop of side fraction U[crop_scale, 1], resized back; 1 = off
  double brightness = 0.0;   // adds U(-brightness, brightness) (images are in [0, 1])
  double contrast = 0.0;     // scales about the per-channel mean by U(1 - contrast, 1 + contrast)
  // Small affine transforms, in Keras ImageDataGenerator's units: degrees and fractions of the size.
  double rotation_deg = 0.0, width_shift = 0.0, height_shift = 0.0, shear_deg = 0.0;
  double zoom = 0.0;  // scale factors zx, zy drawn independently from U[1 - zoom, 1 + zoom]
  FillMode fill_mode = FillMode::Nearest;
  float fill_value = 0.0f, mask_fill_value = 0.0f;

  // The classic Keras U-Net on the membrane data (zhixuhao/unet, data_gen_args): rotation 0.2 degrees,
  // shifts 5%, shear 0.05 degrees, zoom 5%, horizontal flips, nearest fill.
  static AugmentOptions keras_membrane();
  bool any() const;
};

// Transforms the sample in place; the image is clipped to [0, 1] after colour jitter.
void augment(Sample& sample, const AugmentOptions& options, Rng& rng);

}  // namespace tg::data
