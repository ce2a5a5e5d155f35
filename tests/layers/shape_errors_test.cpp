// The exact texts a user gets when shapes do not line up.
#include <doctest/doctest.h>

#include "layers/layers.h"

using namespace tg;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ShapeError& e) {
    return e.what();
  }
  return "(no ShapeError)";
}
}  // namespace

TEST_CASE("the seed build_model as written fails at merge1: conv4 at 1/2 resolution, up1 at 1/4") {
  const std::string expected =
      "Concatenate layer 'concatenate' does not fit its inputs:\n"
      "  input 0: 'batch_normalization_3' (BatchNormalization, after 'conv2d_3'), shape (None, 64, 64, 64): 1/2 of "
      "the input resolution 128x128\n"
      "  input 1: 'conv2d_transpose' (Conv2DTranspose), shape (None, 32, 32, 64): 1/4 of the input resolution "
      "128x128\n"
      "Concatenation along axis -1 needs every other axis to match, but height and width differ.\n"
      "No input size up to 512x512 makes them line up: they come from different depths of the network. Join "
      "tensors of the same resolution.";
  CHECK(error_of([] { seed_autoencoder({128, 128, 3}, /*corrected=*/false); }) == expected);
}

TEST_CASE("a U-Net whose input is not divisible by 2^depth fails at its first skip, naming sizes that work") {
  // 100 -> 50 -> 25 -> 12 -> 6 going down; coming up 6 -> 12 matches the 12x12 skip, but 12 -> 24 meets the
  // 25x25 skip (conv2d_5): the second concatenation is the first that does not line up. Sizes divisible by 16
  // work; the nearest are 96 and 112.
  const std::string expected =
      "Concatenate layer 'concatenate_1' does not fit its inputs:\n"
      "  input 0: 'conv2d_5' (Conv2D), shape (None, 25, 25, 256): 1/4 of the input resolution 100x100\n"
      "  input 1: 'conv2d_13' (Conv2D), shape (None, 24, 24, 256): nominally 1/4 of the input resolution 100x100\n"
      "Concatenation along axis 3 needs every other axis to match, but height and width differ.\n"
      "Input sizes that line up here: height 96 or 112, width 96 or 112 (every pooling and strided layer before "
      "this join then divides its input exactly).";
  CHECK(error_of([] { unet({100, 100, 1}, 2); }) == expected);

  // Only the width is off: 200 -> 100 -> 50 -> 25 -> 12 fails at the first skip (25 vs 24) already.
  const std::string width_only =
      "Concatenate layer 'concatenate' does not fit its inputs:\n"
      "  input 0: 'dropout' (Dropout, after 'conv2d_7'), shape (None, 24, 25, 512): 1/8 of the input resolution "
      "192x200\n"
      "  input 1: 'conv2d_10' (Conv2D), shape (None, 24, 24, 512): nominally 1/8 of the input resolution 192x200\n"
      "Concatenation along axis 3 needs every other axis to match, but width differs.\n"
      "Input sizes that line up here: width 192 or 208 (every pooling and strided layer before this join then "
      "divides its input exactly).";
  CHECK(error_of([] { unet({192, 200, 1}, 2); }) == width_only);
}

TEST_CASE("layer shape errors name the layer, its input and the way out") {
  reset_layer_names();  // names as in a fresh session, whatever ran before
  auto x = Input({5, 5, 2});
  CHECK(error_of([&] { Conv2D(4, 7)(x); }) ==
        "Conv2D layer 'conv2d' does not fit its input:\n"
        "  input: 'input_1' (InputLayer), shape (None, 5, 5, 2): the input resolution 5x5\n"
        "Its 7x7 kernel does not fit in the 5x5 input with 'valid' padding; use padding 'same', a smaller window "
        "or a larger input.");
  CHECK(error_of([&] { MaxPooling2D(2)(MaxPooling2D(2)(MaxPooling2D(2)(x))); }) ==
        "MaxPooling2D layer 'max_pooling2d_2' does not fit its input:\n"
        "  input: 'max_pooling2d_1' (MaxPooling2D), shape (None, 1, 1, 2): nominally 1/4 of the input resolution "
        "5x5\n"
        "Its 2x2 pool does not fit in the 1x1 input with 'valid' padding; use padding 'same', a smaller window "
        "or a larger input.");
  auto a = Conv2D(3, 1)(x);
  CHECK(error_of([&] { add({x, a}); }) ==
        "Add layer 'add' does not fit its inputs:\n"
        "  input 0: 'input_1' (InputLayer), shape (None, 5, 5, 2): the input resolution 5x5\n"
        "  input 1: 'conv2d_1' (Conv2D), shape (None, 5, 5, 3): the input resolution 5x5\n"
        "Add needs inputs of the same shape, but channels differs.");
  CHECK(error_of([&] { Concatenate(0)({x, a}); }).find("Its axis 0 is not a non-batch axis") != std::string::npos);
  CHECK(error_of([&] { BatchNormalization().axis(1)(x); }).find("tapegrad normalises over the last axis only") !=
        std::string::npos);
}

TEST_CASE("argument errors are caught when the layer is described") {
  CHECK_THROWS_WITH_AS(Conv2D(4, 3).padding("full"), "Conv2D: padding 'full' is not one of 'valid', 'same'",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Conv2D(4, 3).activation("gelu"),
                       "Conv2D: unknown activation 'gelu'; known: linear, relu, sigmoid, softmax, tanh",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Conv2D(4, 3).kernel_initializer("he_norml"), doctest::Contains("unknown initializer 'he_norml'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Conv2D(4, 3).strides(2).dilation_rate(2), doctest::Contains("cannot be combined"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Conv2D(0, 3), doctest::Contains("filters must be positive"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(Input({0, 4, 1}), doctest::Contains("non-positive size"), std::invalid_argument);
  // A crafted config's 4e9 x 4e9 input: refused by its size, not by an int overflow further down.
  CHECK_THROWS_WITH_AS(Input({4'000'000'000, 4'000'000'000, 1}), doctest::Contains("more than 2^31 values"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Input({65536, 32768, 2}), doctest::Contains("more than 2^31 values"), std::invalid_argument);
  CHECK_NOTHROW(Input({65536, 32768, 1}));
  CHECK_THROWS_WITH_AS(Dropout(1.5), doctest::Contains("rate must be in [0, 1)"), std::invalid_argument);
}
