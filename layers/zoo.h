// Builders for the seed models (shared/reference/seed_models.py), written with the functional API.
#pragma once
#include <cstdint>

#include "layers/model.h"

namespace tg {

// The classic U-Net, equal to the seed's unet() at the defaults: `depth` levels of two 3x3 'same' relu convs
// (he_normal) with base_filters * 2^level filters and 2x2 max pooling, a bottom block of base_filters * 2^depth,
// Dropout(dropout) after the deepest level and the bottom (none when 0), then per level UpSampling2D + 2x2 conv,
// concatenation with the skip, two 3x3 convs; a 1x1 output conv with softmax (num_classes >= 2) or sigmoid (1).
// batch_norm = true puts BatchNormalization between each 3x3 conv and its relu. Height and width must be
// divisible by 2^depth; otherwise building fails at the first skip that does not line up, naming the sizes
// that would.
Model unet(Shape input_shape, int num_classes, int base_filters = 64, int depth = 4, double dropout = 0.5,
           bool batch_norm = false, uint64_t seed = 0);
// Its graph, for summary() and planned_weights() without allocating the weights.
ModelGraph unet_graph(Shape input_shape, int num_classes, int base_filters = 64, int depth = 4, double dropout = 0.5,
                      bool batch_norm = false, uint64_t seed = 0);

// The seed's build_model: a 3-level conv/BatchNormalization encoder-decoder with Conv2DTranspose upsampling and a
// linear 3-channel output. As written (corrected = false) its first skip joins conv4 (1/2 resolution) with up1
// (1/4) and building throws a ShapeError saying so; corrected = true takes up1 from conv6 so every skip lines up.
// base_filters (32 in the seed) scales every width. The seed ends in a linear 3-channel 3x3 conv (image
// regression); output_channels and output_activation ("softmax", "sigmoid") turn it into a segmentation network.
Model seed_autoencoder(Shape input_shape, bool corrected, uint64_t seed = 0, int base_filters = 32,
                       int output_channels = 3, const std::string& output_activation = "linear");
ModelGraph seed_autoencoder_graph(Shape input_shape, bool corrected, uint64_t seed = 0, int base_filters = 32,
                                  int output_channels = 3, const std::string& output_activation = "linear");

}  // namespace tg
