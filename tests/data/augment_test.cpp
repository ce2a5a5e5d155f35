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

TEST_CASE("augment: elastic deformation keeps a mask drawn from the image aligned and is a pure function of its seed") {
  AugmentOptions o;
  o.elastic_sigma = 6;
  for (FillMode fill : {FillMode::Reflect, FillMode::Nearest}) {
    o.fill_mode = fill;
    for (uint64_t seed = 0; seed < 4; ++seed) {
      Sample s = drawn_from_image(64), again = drawn_from_image(64);
      const Sample original = drawn_from_image(64);
      tg::Rng rng(seed), same(seed);
      augment(s, o, rng);
      augment(again, o, same);
      CHECK(s.image.to_vector() == again.image.to_vector());
      CHECK(s.labels.to_vector() == again.labels.to_vector());
      CHECK(mismatch(s, s.labels) < 0.02);
      CHECK(mismatch(s, original.labels) > 0.01);  // it did move the shapes
      Sample other = drawn_from_image(64);
      tg::Rng rng2(seed + 100);
      augment(other, o, rng2);
      CHECK(mismatch(s, other.labels) > 0.01);
    }
  }
}

TEST_CASE("augment: elastic displacements follow the paper: N(0, sigma^2) pixels at the grid nodes, smooth between") {
  // A two-channel image holding each pixel's own coordinates: bilinear resampling reproduces linear functions, so
  // the output tells the source coordinate of every pixel. On 65 pixels a 3x3 grid has a node on the centre pixel.
  const int n = 65;
  const double sigma = 3.0;
  AugmentOptions o;
  o.elastic_sigma = sigma;
  o.fill_mode = FillMode::Nearest;
  double sum_squares = 0;
  double steepest = 0;
  const int draws = 400;
  for (int seed = 0; seed < draws; ++seed) {
    Sample s{tg::Tensor({n, n, 2}), tg::Tensor({n, n})};
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) {
        s.image.data<float>()[(y * n + x) * 2] = float(x) / n;
        s.image.data<float>()[(y * n + x) * 2 + 1] = float(y) / n;
        s.labels.data<float>()[y * n + x] = float(y * n + x);
      }
    tg::Rng rng(static_cast<uint64_t>(seed));
    augment(s, o, rng);
    auto source = [&](int x, int y, int axis) { return double(s.image.data<float>()[(y * n + x) * 2 + axis]) * n; };
    const double dx = source(n / 2, n / 2, 0) - n / 2, dy = source(n / 2, n / 2, 1) - n / 2;
    sum_squares += dx * dx + dy * dy;
    // between the nodes the field is smooth: neighbouring pixels move by less than a pixel relative to each other
    // (the map never folds; independent per-pixel displacements of this sigma would differ by about 4 pixels)
    for (int y = 16; y < 48; ++y)
      for (int x = 16; x < 48; ++x)
        steepest = std::max(steepest, std::abs(source(x + 1, y, 0) - source(x, y, 0) - 1.0));
    // the label of each pixel is that of its nearest source pixel: the same map as the image's
    int misplaced = 0;
    for (int y = 16; y < 48; ++y)
      for (int x = 16; x < 48; ++x) {
        const double sx = source(x, y, 0), sy = source(x, y, 1);
        if (std::abs(sx - std::floor(sx) - 0.5) < 0.01 || std::abs(sy - std::floor(sy) - 0.5) < 0.01) continue;
        const float expected = float(std::lround(sy) * n + std::lround(sx));
        misplaced += s.labels.data<float>()[y * n + x] != expected;
      }
    CHECK(misplaced == 0);
  }
  const double rms = std::sqrt(sum_squares / (2.0 * draws));
  CHECK(rms == doctest::Approx(sigma).epsilon(0.1));  // 800 normal draws: the estimate is within 10% with p > 0.99
  CHECK(steepest < 1.0);
}

TEST_CASE("augment: gamma, blur and noise change the image only, within their ranges, and replay from the seed") {
  const Sample original = drawn_from_image(32);
  auto run = [&](const AugmentOptions& o, uint64_t seed) {
    Sample s = drawn_from_image(32);
    tg::Rng rng(seed);
    augment(s, o, rng);
    CHECK(s.labels.to_vector() == original.labels.to_vector());
    CHECK(tg::testing::all(s.image.to_vector(), [](double v) { return v >= 0.0 && v <= 1.0; }));
    return s.image.to_vector();
  };
  AugmentOptions gamma;
  gamma.gamma = 0.5;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    const auto image = run(gamma, seed);
    CHECK(image == run(gamma, seed));
    // one exponent g in [1/1.5, 1.5] for the whole image: 0.9 -> 0.9^g, 0.1 -> 0.1^g with the same g
    const double g = std::log(image[0]) / std::log(0.1);  // pixel 0 is background (0.1)
    CHECK(g >= 1 / 1.5 - 1e-6);
    CHECK(g <= 1.5 + 1e-6);
    for (size_t i = 0; i < image.size(); ++i)
      CHECK(image[i] == doctest::Approx(std::pow(original.image.to_vector()[i], g)).epsilon(1e-5));
  }

  AugmentOptions blur;
  blur.blur_sigma = 2.0;
  Sample impulse{tg::Tensor({15, 15, 1}), tg::Tensor({15, 15})};
  impulse.image.data<float>()[7 * 15 + 7] = 1.0f;
  tg::Rng rng(3);
  augment(impulse, blur, rng);
  const auto v = impulse.image.to_vector();
  double total = 0;
  for (double x : v) total += x;
  CHECK(total == doctest::Approx(1.0).epsilon(1e-5));  // a normalised kernel, nothing lost at the borders
  CHECK(v[7 * 15 + 7] < 1.0);
  for (int d = 1; d <= 7; ++d) {  // symmetric and falling off from the centre
    CHECK(v[7 * 15 + 7 - d] == doctest::Approx(v[7 * 15 + 7 + d]));
    CHECK(v[(7 - d) * 15 + 7] == doctest::Approx(v[(7 + d) * 15 + 7]));
    CHECK(v[7 * 15 + 7 + d] <= v[7 * 15 + 7 + d - 1]);
  }

  AugmentOptions noise;
  noise.noise_std = 0.05;
  const auto noisy = run(noise, 5);
  CHECK(noisy == run(noise, 5));
  CHECK(noisy != run(noise, 6));
  double mean_change = 0, square = 0;
  for (size_t i = 0; i < noisy.size(); ++i) {
    const double d = noisy[i] - original.image.to_vector()[i];
    mean_change += d;
    square += d * d;
  }
  CHECK(std::abs(mean_change / noisy.size()) < 0.01);
  CHECK(std::sqrt(square / noisy.size()) < 0.05);
  CHECK(std::sqrt(square / noisy.size()) > 0.0);
}

TEST_CASE("augment: the presets turn on what they say, and bad values of the new options are refused") {
  const AugmentOptions paper = AugmentOptions::unet_paper();
  CHECK(paper.elastic_sigma == 10.0);
  CHECK(paper.elastic_grid == 3);
  CHECK(paper.fill_mode == FillMode::Reflect);
  CHECK(paper.any());
  const AugmentOptions strong = AugmentOptions::strong();
  CHECK((strong.gamma > 0 && strong.blur_sigma > 0 && strong.noise_std > 0 && strong.rotation_deg == 180.0));
  Sample s = drawn_from_image(32);
  tg::Rng rng(1);
  augment(s, strong, rng);
  CHECK(mismatch(s, s.labels) < 0.1);  // blur and noise blur the image's threshold, not the geometry

  AugmentOptions bad;
  bad.elastic_sigma = 5;
  bad.elastic_grid = 1;
  CHECK_THROWS_WITH_AS(augment(s, bad, rng), doctest::Contains("elastic_grid"), std::invalid_argument);
  bad = AugmentOptions{};
  bad.noise_std = -1;
  CHECK_THROWS_WITH_AS(augment(s, bad, rng), doctest::Contains("noise_std"), std::invalid_argument);
}

TEST_CASE("augment: interpolation_order 0 samples the image at its labels' own source pixels, exactly") {
  // blocks(): image * 3 == labels at every pixel, a relation no blending keeps. Crop, affine and elastic steps
  // with nearest sampling must keep it everywhere; bilinear (order 1) breaks it along every block edge.
  AugmentOptions o;
  o.crop_scale = 0.6;
  o.rotation_deg = 30;
  o.shear_deg = 8;
  o.zoom = 0.2;
  o.width_shift = 0.1;
  o.elastic_sigma = 4;
  o.rotate90 = true;
  o.fill_mode = FillMode::Reflect;
  const auto broken = [](const Sample& s) {
    int64_t bad = 0;
    for (int64_t i = 0; i < s.labels.numel(); ++i)
      bad += s.image.data<float>()[i] * 3.0f != s.labels.data<float>()[i];
    return bad;
  };
  for (uint64_t seed = 0; seed < 4; ++seed) {
    o.interpolation_order = 0;
    Sample s = blocks(40, 40, seed), again = blocks(40, 40, seed);
    tg::Rng rng(seed), same(seed);
    augment(s, o, rng);
    augment(again, o, same);
    CHECK(broken(s) == 0);
    CHECK(s.image.to_vector() == again.image.to_vector());  // a pure function of the generator
    CHECK(s.labels.to_vector() != blocks(40, 40, seed).labels.to_vector());  // it did move them
    o.interpolation_order = 1;
    Sample blended = blocks(40, 40, seed);
    tg::Rng rng1(seed);
    augment(blended, o, rng1);
    CHECK(broken(blended) > 40);
  }
  o.interpolation_order = 2;
  Sample t = blocks(8, 8, 0);
  tg::Rng rng(0);
  CHECK_THROWS_WITH_AS(augment(t, o, rng), doctest::Contains("interpolation_order must be 0 (nearest) or 1"),
                       std::invalid_argument);
}
