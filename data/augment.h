// Training-time augmentation. Image and label map go through the same geometric transform (the labels by
// nearest neighbour, so class ids stay exact); colour jitter touches the image only. Every random number
// comes from the generator passed in, so a sample's augmentation is a pure function of that generator.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

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
  // The U-Net paper's elastic deformation: displacements drawn from N(0, elastic_sigma^2) pixels at the nodes of an
  // elastic_grid x elastic_grid grid spanning the image, interpolated bicubically to every pixel (paper: 3, 10).
  double elastic_sigma = 0.0;
  int elastic_grid = 3;
  double gamma = 0.0;       // image^g with log g uniform in [-log(1 + gamma), log(1 + gamma)]
  double blur_sigma = 0.0;  // Gaussian blur of standard deviation U(0, blur_sigma) pixels (reflected borders)
  double noise_std = 0.0;   // adds N(0, s^2) per value, s ~ U(0, noise_std)
  FillMode fill_mode = FillMode::Nearest;
  float fill_value = 0.0f, mask_fill_value = 0.0f;
  // How the geometric steps (crop, affine, elastic) sample the image, as Keras ImageDataGenerator's
  // interpolation_order: 1 bilinear, 0 nearest. Nearest reads, for each output pixel, the very source pixel its label
  // comes from, and adds no blur: it keeps images that were shrunk by nearest neighbour (--interpolation nearest)
  // looking like the unaugmented ones the model is validated on.
  int interpolation_order = 1;

  // The classic Keras U-Net on the membrane data (zhixuhao/unet, data_gen_args): rotation 0.2 degrees,
  // shifts 5%, shear 0.05 degrees, zoom 5%, horizontal flips, nearest fill.
  static AugmentOptions keras_membrane();
  // The U-Net paper's recipe for its membrane data: flips, quarter turns, elastic deformation on a 3x3 grid of
  // 10-pixel displacements, mirrored borders.
  static AugmentOptions unet_paper();
  // unet_paper plus any-angle rotation, scale and shear, brightness/contrast/gamma, noise and blur.
  static AugmentOptions strong();
  bool any() const;
  void validate() const;  // throws std::invalid_argument naming the first option out of range
};

NLOHMANN_JSON_SERIALIZE_ENUM(FillMode, {{FillMode::Nearest, "nearest"},
                                        {FillMode::Reflect, "reflect"},
                                        {FillMode::Constant, "constant"}})
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AugmentOptions, horizontal_flip, vertical_flip, rotate90, crop_scale,
                                                brightness, contrast, rotation_deg, width_shift, height_shift,
                                                shear_deg, zoom, elastic_sigma, elastic_grid, gamma, blur_sigma,
                                                noise_std, fill_mode, fill_value, mask_fill_value,
                                                interpolation_order)

// Transforms the sample in place, in this order: random crop, affine, elastic, flips, quarter turns, brightness and
// contrast, gamma, blur, noise; the image is clipped to [0, 1] after the photometric steps. A step that is off draws
// no random number, so adding one to the options leaves the others' draws unchanged.
void augment(Sample& sample, const AugmentOptions& options, Rng& rng);

}  // namespace tg::data
