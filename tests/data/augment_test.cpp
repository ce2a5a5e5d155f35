#include "data_test_util.h"

#include <cmath>

using namespace tg::data;

namespace {

// Labels of random blocks, and an image that is the labels scaled to [0, 1]: image * 3 == labels exactly.
Sample blocks(int h, int w, uint64_t seed) {
  Sample s{tg::Tensor({h, w, 1}), tg::Tensor({h, w})};
  tg::Rng rng(seed);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float c = static_cast<float>(rng.uniform_int(4));
      s.labels.data<float>()[y * w + x] = c;
      s.image.data<float>()[y * w + x] = c / 3.0f;
    }
  return s;
}

// A smooth image (a disc and a bar) and its mask drawn from it: labels = image > 0.5.
Sample drawn_from_image(int n) {
  Sample s{tg::Tensor({n, n, 1}), tg::Tensor({n, n})};
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const double d = std::hypot(x - 0.35 * n, y - 0.4 * n);
      const bool bar = x > 0.6 * n && x < 0.8 * n && y > 0.2 * n;
      const float v = d < 0.22 * n || bar ? 0.9f : 0.1f;
      s.image.data<float>()[y * n + x] = v;
      s.labels.data<float>()[y * n + x] = v > 0.5f ? 1.0f : 0.0f;
    }
  return s;
}

double mismatch(const Sample& s, const tg::Tensor& labels) {
  int64_t bad = 0;
  for (int64_t i = 0; i < labels.numel(); ++i)
    bad += (s.image.data<float>()[i] > 0.5f ? 1.0f : 0.0f) != labels.data<float>()[i];
  return static_cast<double>(bad) / static_cast<double>(labels.numel());
}

}  // namespace

TEST_CASE("augment: flips and quarter turns move image and mask together, exactly") {
  AugmentOptions o;
  o.horizontal_flip = o.vertical_flip = o.rotate90 = true;
  for (auto [h, w] : {std::pair{6, 6}, std::pair{4, 7}}) {
    const Sample original = blocks(h, w, 1);
    int changed = 0;
    for (uint64_t seed = 0; seed < 12; ++seed) {
      Sample s = blocks(h, w, 1);
      tg::Rng rng(seed);
      augment(s, o, rng);
      CHECK(s.image.shape() == original.image.shape());
      bool aligned = true;
      for (int64_t i = 0; i < s.labels.numel(); ++i) aligned = aligned && s.image.data<float>()[i] * 3.0f == s.labels.data<float>()[i];
      CHECK(aligned);
      changed += s.labels.to_vector() != original.labels.to_vector();
    }
    CHECK(changed >= 6);
  }
}

TEST_CASE("augment: a quarter turn is counter-clockwise, a horizontal flip mirrors columns") {
  Sample s{tg::Tensor::from({1, 2, 3, 4}, {2, 2, 1}), tg::Tensor::from({1, 2, 3, 4}, {2, 2})};
  AugmentOptions o;
  o.rotate90 = true;
  // find seeds giving k = 1 (one quarter turn): [[1, 2], [3, 4]] -> [[2, 4], [1, 3]]
  bool seen = false;
  for (uint64_t seed = 0; seed < 20 && !seen; ++seed) {
    Sample t{s.image.clone(), s.labels.clone()};
    tg::Rng rng(seed);
    if (tg::Rng(seed).uniform_int(4) != 1) continue;
    augment(t, o, rng);
    CHECK(t.labels.to_vector() == std::vector<double>{2, 4, 1, 3});
    seen = true;
  }
  CHECK(seen);
  AugmentOptions f;
  f.horizontal_flip = true;
  // Every seed is checked: the flip happens exactly when the first draw is below 0.5, and both outcomes occur.
  int flipped = 0, kept = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    CAPTURE(seed);
    const bool flip = tg::Rng(seed).uniform() < 0.5;
    Sample t{s.image.clone(), s.labels.clone()};
    tg::Rng rng(seed);
    augment(t, f, rng);
    const std::vector<double> expected = flip ? std::vector<double>{2, 1, 4, 3} : std::vector<double>{1, 2, 3, 4};
    CHECK(t.labels.to_vector() == expected);
    CHECK(t.image.to_vector() == expected);
    (flip ? flipped : kept) += 1;
  }
  CHECK(flipped >= 3);
  CHECK(kept >= 3);
}

TEST_CASE("augment: a mask drawn from the image stays aligned through affine transforms and random crops") {
  AugmentOptions o;
  o.rotation_deg = 25;
  o.width_shift = o.height_shift = 0.1;
  o.shear_deg = 10;
  o.zoom = 0.2;
  o.crop_scale = 0.7;
  o.horizontal_flip = true;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    Sample s = drawn_from_image(64);
    tg::Rng rng(seed);
    augment(s, o, rng);
    // bilinear (image) and nearest (mask) disagree at most along the edges of the shapes
    CHECK(mismatch(s, s.labels) < 0.02);
    // the check can fail: the mask of another draw does not line up with this image
    Sample other = drawn_from_image(64);
    tg::Rng rng2(seed + 100);
    augment(other, o, rng2);
    CHECK(mismatch(s, other.labels) > 0.05);
  }
}

TEST_CASE("augment: same generator state, same result, colour jitter leaves the labels alone") {
  AugmentOptions o = AugmentOptions::keras_membrane();
  o.brightness = 0.2;
  o.contrast = 0.3;
  Sample a = drawn_from_image(32), b = drawn_from_image(32), c = drawn_from_image(32);
  tg::Rng r1(42), r2(42), r3(43);
  augment(a, o, r1);
  augment(b, o, r2);
  augment(c, o, r3);
  CHECK(a.image.to_vector() == b.image.to_vector());
  CHECK(a.labels.to_vector() == b.labels.to_vector());
  CHECK(a.image.to_vector() != c.image.to_vector());
  CHECK(tg::testing::all(a.image.to_vector(), [](double v) { return v >= 0.0 && v <= 1.0; }));
  CHECK(tg::testing::all(a.labels.to_vector(), [](double v) { return v == 0.0 || v == 1.0; }));

  AugmentOptions jitter;
  jitter.brightness = 0.3;
  Sample d = drawn_from_image(16);
  const auto labels = d.labels.to_vector(), image = d.image.to_vector();
  tg::Rng r4(7);
  augment(d, jitter, r4);
  CHECK(d.labels.to_vector() == labels);
  CHECK(d.image.to_vector() != image);
}

TEST_CASE("augment: constant fill puts fill values in the image and mask_fill_value in the labels") {
  AugmentOptions o;
  o.width_shift = 0.5;  // up to half the width
  o.fill_mode = FillMode::Constant;
  o.fill_value = 0.25f;
  o.mask_fill_value = 255.0f;
  int filled = 0;
  for (uint64_t seed = 0; seed < 4; ++seed) {
    Sample s = blocks(8, 16, 3);
    tg::Rng rng(seed);
    augment(s, o, rng);
    for (int64_t i = 0; i < s.labels.numel(); ++i) {
      const float lab = s.labels.data<float>()[i];
      CHECK(((lab >= 0 && lab <= 3) || lab == 255.0f));
      filled += lab == 255.0f;
    }
    // the nearest fill (the default) never invents labels
    Sample n = blocks(8, 16, 3);
    AugmentOptions nearest = o;
    nearest.fill_mode = FillMode::Nearest;
    tg::Rng rng2(seed);
    augment(n, nearest, rng2);
    CHECK(tg::testing::all(n.labels.to_vector(), [](double v) { return v <= 3.0; }));
  }
  CHECK(filled > 0);
}

TEST_CASE("augment: reflect fill mirrors about the edge (d c b a | a b c d | d c b a)") {
  // A horizontal shift of a 1-row ramp; the labels (nearest) must read x + tx reflected back into 0..7.
  AugmentOptions o;
  o.width_shift = 0.25;
  o.fill_mode = FillMode::Reflect;
  auto reflect = [](long i) { return i < 0 ? -i - 1 : (i > 7 ? 15 - i : i); };
  for (uint64_t seed : {0, 3}) {  // shifts of about +1.5 and -1.5 pixels: both edges reflect
    Sample s{tg::Tensor::from({0, 1, 2, 3, 4, 5, 6, 7}, {1, 8, 1}), tg::Tensor::from({0, 1, 2, 3, 4, 5, 6, 7}, {1, 8})};
    tg::Rng rng(seed), replay(seed);
    const double tx = replay.uniform(-0.25, 0.25) * 8;  // the one draw augment() makes
    REQUIRE(std::abs(tx) > 1.0);
    augment(s, o, rng);
    for (int x = 0; x < 8; ++x) CHECK(s.labels.at({0, x}) == reflect(std::lround(x + tx)));
  }
}

TEST_CASE("augment: bad shapes and options are refused") {
  Sample s{tg::Tensor({4, 4, 1}), tg::Tensor({4, 5})};
  tg::Rng rng(0);
  CHECK_THROWS_AS(augment(s, AugmentOptions{}, rng), std::invalid_argument);
  Sample t{tg::Tensor({4, 4, 1}), tg::Tensor({4, 4})};
  AugmentOptions o;
  o.crop_scale = 0;
  CHECK_THROWS_AS(augment(t, o, rng), std::invalid_argument);
  CHECK(AugmentOptions::keras_membrane().any());
  CHECK_FALSE(AugmentOptions{}.any());
}
