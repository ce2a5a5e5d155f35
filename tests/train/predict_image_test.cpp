// Whole-image inference (train/predict.h): tiles and resizing give what the model gives pixel by pixel.
#include <doctest/doctest.h>

#include <cmath>

#include "layers/layers.h"
#include "train/predict.h"

using namespace tg;

namespace {

// A per-pixel model: 1x1 convolution to 2 classes and softmax, so any image size has an exact answer.
Model per_pixel(int size, const char* activation = "softmax", int classes = 2) {
  auto x = Input({size, size, 1});
  return Model(x, Conv2D(classes, 1).activation(activation)(x), /*seed=*/4);
}

// The 2-class softmax of the 1x1 convolution at value v, written out.
std::array<double, 2> by_hand(const Model& m, double v) {
  const std::vector<Weight> w = m.weights();
  const double z0 = w[0].variable.value().flat(0) * v + w[1].variable.value().flat(0);
  const double z1 = w[0].variable.value().flat(1) * v + w[1].variable.value().flat(1);
  const double p1 = 1.0 / (1.0 + std::exp(z0 - z1));
  return {1.0 - p1, p1};
}

Tensor ramp_image(int h, int w) {
  Tensor image({h, w, 1});
  for (int64_t i = 0; i < image.numel(); ++i) image.set_flat(i, static_cast<double>(i % 97) / 48.0 - 1.0);
  return image;
}

}  // namespace

TEST_CASE("predict_image: tiles over a larger image, and a smaller one, match the model pixel by pixel") {
  Model m = per_pixel(8);
  m.train();
  for (const auto& [h, w] : {std::pair{20, 13}, std::pair{8, 8}, std::pair{5, 11}}) {
    CAPTURE(h);
    CAPTURE(w);
    const Tensor image = ramp_image(h, w);
    const Tensor probs = train::predict_image(m, image, {.fit = train::ImageFit::Tile, .overlap = 3});
    REQUIRE(probs.shape() == Shape{h, w, 2});
    for (int64_t p = 0; p < int64_t{h} * w; ++p) {
      const auto want = by_hand(m, image.flat(p));
      REQUIRE(probs.flat(2 * p) == doctest::Approx(want[0]).epsilon(1e-5));
      REQUIRE(probs.flat(2 * p + 1) == doctest::Approx(want[1]).epsilon(1e-5));
    }
    const Tensor classes = argmax(probs);
    CHECK(classes.shape() == Shape{h, w});
  }
  CHECK(m.training());  // the mode the model was in
}

TEST_CASE("predict_image: resize brings the image to the input size and the probabilities back") {
  Model m = per_pixel(8);
  const Tensor flat = Tensor::full({16, 24, 1}, 0.3);
  const Tensor probs = train::predict_image(m, flat, {.fit = train::ImageFit::Resize});
  REQUIRE(probs.shape() == Shape{16, 24, 2});
  const auto want = by_hand(m, 0.3);
  for (int64_t p = 0; p < 16 * 24; ++p) REQUIRE(probs.flat(2 * p + 1) == doctest::Approx(want[1]).epsilon(1e-5));
}

TEST_CASE("predict_image: resize shrinks by nearest (the pixel at odd rows and columns) or bilinear (2x2 means)") {
  Model m = per_pixel(8);
  // 0.8 at odd rows and columns, -0.6 elsewhere: halving by nearest reads only the 0.8 pixels, bilinear averages
  // (0.8 - 3 x 0.6) / 4 = -0.25. Either way the small image is flat, so the probabilities come back flat.
  Tensor image({16, 16, 1});
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) image.set_flat(y * 16 + x, y % 2 == 1 && x % 2 == 1 ? 0.8 : -0.6);
  for (const auto& [how, v] : {std::pair{data::Interpolation::Nearest, 0.8}, std::pair{data::Interpolation::Bilinear, -0.25}}) {
    CAPTURE(v);
    const Tensor probs = train::predict_image(m, image, {.fit = train::ImageFit::Resize, .interpolation = how});
    REQUIRE(probs.shape() == Shape{16, 16, 2});
    const auto want = by_hand(m, v);
    for (int64_t p = 0; p < 16 * 16; ++p) REQUIRE(probs.flat(2 * p + 1) == doctest::Approx(want[1]).epsilon(1e-5));
  }
}

TEST_CASE("predict_image: a 1-channel sigmoid output becomes two classes, 1 - p and p, and bad images are errors") {
  Model m = per_pixel(8, "sigmoid", 1);
  const Tensor image = ramp_image(9, 9);
  const Tensor probs = train::predict_image(m, image);
  REQUIRE(probs.shape() == Shape{9, 9, 2});
  const double k = m.weights()[0].variable.value().flat(0), b = m.weights()[1].variable.value().flat(0);
  for (int64_t p = 0; p < 81; ++p) {
    const double sig = 1.0 / (1.0 + std::exp(-(k * image.flat(p) + b)));
    REQUIRE(probs.flat(2 * p + 1) == doctest::Approx(sig).epsilon(1e-5));
    REQUIRE(probs.flat(2 * p) == doctest::Approx(1.0 - sig).epsilon(1e-5));
  }
  CHECK_THROWS_WITH_AS(train::predict_image(m, Tensor({9, 9, 3})), doctest::Contains("takes float32 images [H, W, 1]"),
                       std::invalid_argument);
}

namespace {
// A model that looks at neighbours: 3x3 'same' convolution to 2 classes, softmax.
Model spatial(int size) {
  auto x = Input({size, size, 1});
  return Model(x, Conv2D(2, 3).padding("same").activation("softmax")(Conv2D(3, 3).padding("same")(x)), /*seed=*/7);
}

double at(const Tensor& t, int y, int x, int c) {
  return t.flat((static_cast<int64_t>(y) * t.dim(1) + x) * t.dim(2) + c);
}
}  // namespace

TEST_CASE("predict_image: --mirror pads by mirroring (edge repeated) and crops the margin back") {
  Model m = spatial(16);
  const Tensor image = ramp_image(12, 12);
  train::PredictImageOptions o;
  o.mirror_margin = 2;
  const Tensor probs = train::predict_image(m, image, o);
  REQUIRE(probs.shape() == Shape{12, 12, 2});
  // By hand: the 16x16 image mirrored about each edge, d c | a b c d ... | d c
  Tensor padded({1, 16, 16, 1});
  auto mirror = [](int i) { return i < 0 ? -1 - i : i >= 12 ? 23 - i : i; };
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) padded.set_flat(y * 16 + x, at(image, mirror(y - 2), mirror(x - 2), 0));
  const Tensor whole = m.predict(padded);
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 12; ++x)
      for (int c = 0; c < 2; ++c) CHECK(at(probs, y, x, c) == doctest::Approx(whole.flat(((y + 2) * 16 + x + 2) * 2 + c)));
  // Without the margin the border pixels see zero padding instead: the results differ there.
  const Tensor plain = train::predict_image(m, image, {});
  double border_difference = 0;
  for (int x = 0; x < 12; ++x) border_difference += std::abs(at(plain, 0, x, 1) - at(probs, 0, x, 1));
  CHECK(border_difference > 1e-4);
}

TEST_CASE("predict_image: --tta averages the eight flips and transposes, each mapped back") {
  Model m = spatial(16);
  const Tensor image = ramp_image(16, 16);
  train::PredictImageOptions o;
  o.flips = true;
  const Tensor probs = train::predict_image(m, image, o);
  // By hand: view k reads the image at (y, x) transformed; its prediction is read back at the same place.
  Tensor expected({16, 16, 2});
  for (int k = 0; k < 8; ++k) {
    auto source = [k](int y, int x) {  // where view k's pixel (y, x) comes from in the image
      if (k & 2) y = 15 - y;
      if (k & 1) x = 15 - x;
      if (k & 4) std::swap(y, x);
      return std::pair{y, x};
    };
    Tensor view({1, 16, 16, 1});
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 16; ++x) {
        const auto [sy, sx] = source(y, x);
        view.set_flat(y * 16 + x, at(image, sy, sx, 0));
      }
    const Tensor p = m.predict(view);
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 16; ++x) {
        const auto [sy, sx] = source(y, x);
        for (int c = 0; c < 2; ++c) {
          const int64_t i = (static_cast<int64_t>(sy) * 16 + sx) * 2 + c;
          expected.set_flat(i, expected.flat(i) + p.flat((y * 16 + x) * 2 + c) / 8.0);
        }
      }
  }
  for (int64_t i = 0; i < probs.numel(); ++i) CHECK(probs.flat(i) == doctest::Approx(expected.flat(i)).epsilon(1e-5));
  // A non-square image takes the four flips only, and a per-pixel model gives the plain answer back exactly.
  Model pixel = per_pixel(8);
  const Tensor wide = ramp_image(8, 13);
  CHECK(train::predict_image(pixel, wide, o).to_vector() == train::predict_image(pixel, wide, {}).to_vector());
}
