// Parameter counts and output shapes of the seed models and U-Net variants, against arithmetic done by hand
// (a 3x3 conv from i to o channels has 9*i*o + o parameters, a kxk conv k*k*i*o + o, a 2x2 Conv2DTranspose
// 4*o*i + o, a BatchNormalization over c channels 4c of which 2c (moving mean, variance) are not trainable).
#include <doctest/doctest.h>

#include "layers/layers.h"

using namespace tg;

TEST_CASE("unet(256x256x1, 2 classes) has Keras's 31,030,658 parameters, all trainable" * doctest::test_suite("slow")) {
  // 3x3 convs: 1->64: 640, 64->64: 36,928, 64->128: 73,856, 128->128: 147,584, 128->256: 295,168,
  // 256->256: 590,080, 256->512: 1,180,160, 512->512: 2,359,808, 512->1024: 4,719,616, 1024->1024: 9,438,208
  //   (contracting path and bottom: 18,841,984)
  // expanding path: 2x2 1024->512: 2,097,664, 3x3 1024->512: 4,719,104, 512->512: 2,359,808,
  //   2x2 512->256: 524,544, 3x3 512->256: 1,179,904, 256->256: 590,080,
  //   2x2 256->128: 131,200, 3x3 256->128: 295,040, 128->128: 147,584,
  //   2x2 128->64: 32,832, 3x3 128->64: 73,792, 64->64: 36,928  (12,188,544)
  // output 1x1 64->2: 130.  18,841,984 + 12,188,544 + 130 = 31,030,658.
  Model m = unet({256, 256, 1}, 2);
  CHECK(m.count_params() == 31030658);
  CHECK(m.count_trainable_params() == 31030658);
  CHECK(m.non_trainable_weights().empty());
  CHECK(m.weights().size() == 46);  // 23 convs, kernel + bias each
  CHECK(m.input_shape() == Shape{256, 256, 1});
  CHECK(m.output_shape() == Shape{256, 256, 2});
  CHECK(m.output_activation() == "softmax");
  CHECK(m.layer("conv2d_10").weights()[0].variable.shape() == Shape{2, 2, 1024, 512});  // up6, HWIO
}

TEST_CASE("corrected seed build_model at 128x128x3: 469,923 parameters, 1,280 of them not trainable") {
  // convs: 3->32: 896, 32->32: 9,248, 32->64: 18,496, 64->64: 36,928, 64->128: 73,856, 128->128: 147,584,
  //   ConvT 2x2 128->64: 32,832, 128->64: 73,792, 64->64: 36,928, ConvT 2x2 64->32: 8,224, 64->32: 18,464,
  //   32->32: 9,248, output 32->3: 867  (sum 467,363)
  // BN over 32+32+64+64+128+128+64+64+32+32 = 640 channels: 2,560 (1,280 trainable, 1,280 moving statistics)
  // total 469,923; trainable 467,363 + 1,280 = 468,643.
  Model m = seed_autoencoder({128, 128, 3}, /*corrected=*/true);
  CHECK(m.count_params() == 469923);
  CHECK(m.count_trainable_params() == 468643);
  int64_t non_trainable = 0;
  for (const Weight& w : m.non_trainable_weights()) non_trainable += w.variable.numel();
  CHECK(non_trainable == 1280);
  CHECK(m.output_shape() == Shape{128, 128, 3});
  CHECK(m.output_activation() == "linear");
  CHECK(m.layer("conv2d_transpose").weights()[0].variable.shape() == Shape{2, 2, 64, 128});  // (kh, kw, out, in)
}

TEST_CASE("U-Net variants: widths, depths, class counts, batch norm and a non-square input") {
  SUBCASE("64x64x3, 1 class, base 16, depth 3, dropout 0.5") {
    // 3x3: 3->16: 448, 16->16: 2,320, 16->32: 4,640, 32->32: 9,248, 32->64: 18,496, 64->64: 36,928,
    //   64->128: 73,856, 128->128: 147,584; 2x2 128->64: 32,832, 3x3 128->64: 73,792, 64->64: 36,928,
    //   2x2 64->32: 8,224, 3x3 64->32: 18,464, 32->32: 9,248, 2x2 32->16: 2,064, 3x3 32->16: 4,624,
    //   16->16: 2,320; output 1x1 16->1: 17.  Sum 482,033.
    Model m = unet({64, 64, 3}, 1, 16, 3, 0.5);
    CHECK(m.count_params() == 482033);
    CHECK(m.output_shape() == Shape{64, 64, 1});
    CHECK(m.output_activation() == "sigmoid");
  }
  SUBCASE("32x48x1, 3 classes, base 8, depth 2, no dropout, batch norm") {
    // convs: 1->8: 80, 8->8: 584, 8->16: 1,168, 16->16: 2,320, 16->32: 4,640, 32->32: 9,248,
    //   2x2 32->16: 2,064, 3x3 32->16: 4,624, 16->16: 2,320, 2x2 16->8: 520, 3x3 16->8: 1,160, 8->8: 584,
    //   output 1x1 8->3: 27  (sum 29,339)
    // BN after each 3x3 conv: 8+8+16+16+32+32+16+16+8+8 = 160 channels, 640 params, 320 not trainable.
    Model m = unet({32, 48, 1}, 3, 8, 2, 0.0, true);
    CHECK(m.count_params() == 29979);
    CHECK(m.count_params() - m.count_trainable_params() == 320);
    CHECK(m.output_shape() == Shape{32, 48, 3});
    for (const auto& layer : m.layers()) CHECK(layer->class_name() != "Dropout");
  }
  SUBCASE("depth 1 at 2x2") {
    // 3x3 1->4: 40, 4->4: 148, 4->8: 296, 8->8: 584, 2x2 8->4: 132, 3x3 8->4: 292, 4->4: 148, 1x1 4->2: 10
    Model m = unet({2, 2, 1}, 2, 4, 1);
    CHECK(m.count_params() == 40 + 148 + 296 + 584 + 132 + 292 + 148 + 10);
    CHECK(m.output_shape() == Shape{2, 2, 2});
  }
}

TEST_CASE("builders reject arguments that make no model") {
  CHECK_THROWS_WITH_AS(unet({64, 64}, 2), doctest::Contains("(height, width, channels)"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(unet({64, 64, 1}, 0), doctest::Contains("num_classes"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(unet({64, 64, 1}, 2, 64, 4, 1.0), doctest::Contains("rate must be in [0, 1)"),
                       std::invalid_argument);
}
