#include "data_test_util.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "data/weight_map.h"

using namespace tg::data;
using tg::Tensor;

namespace {

Tensor label_map(int h, int w, const std::vector<int>& ids) {
  Tensor t({h, w});
  for (size_t i = 0; i < ids.size(); ++i) t.data<float>()[i] = static_cast<float>(ids[i]);
  return t;
}

// The weight map by definition, brute force: objects found by repeated flood fill, each gap pixel's distance to every
// pixel of every object, the two smallest per-object minima.
std::vector<double> brute_force(const std::vector<int>& ids, int h, int w, double w0, double sigma) {
  std::vector<int> object(ids.size(), -1);
  int objects = 0;
  for (size_t start = 0; start < ids.size(); ++start) {
    if (ids[start] == 0 || object[start] >= 0) continue;
    object[start] = objects;
    for (bool grew = true; grew;) {  // grow until stable: slow and obviously right
      grew = false;
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          const int i = y * w + x;
          if (ids[i] == 0 || object[i] >= 0) continue;
          const bool touches = (x > 0 && object[i - 1] == objects) || (x + 1 < w && object[i + 1] == objects) ||
                               (y > 0 && object[i - w] == objects) || (y + 1 < h && object[i + w] == objects);
          if (touches) object[i] = objects, grew = true;
        }
    }
    ++objects;
  }
  std::vector<double> out(ids.size(), 1.0);
  for (int i = 0; i < h * w; ++i) {
    if (ids[i] != 0) continue;
    std::vector<double> nearest(objects, std::numeric_limits<double>::infinity());
    for (int j = 0; j < h * w; ++j)
      if (object[j] >= 0)
        nearest[object[j]] = std::min(nearest[object[j]], std::hypot(i % w - j % w, i / w - j / w));
    std::sort(nearest.begin(), nearest.end());
    if (objects >= 2) out[i] += w0 * std::exp(-(nearest[0] + nearest[1]) * (nearest[0] + nearest[1]) / (2 * sigma * sigma));
  }
  return out;
}

}  // namespace

TEST_CASE("border_weight_map: a gap of g pixels between two objects weighs w_c + w0 exp(-(g + 1)^2 / 2 sigma^2)") {
  // Five rows of: object (class 1) in columns 0-1, a gap of three class-0 pixels, object in columns 5-6. Every gap
  // pixel at column x has d1 + d2 = (x - 1) + (5 - x) = 4, whatever the row.
  std::vector<int> ids;
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 7; ++x) ids.push_back(x <= 1 || x >= 5 ? 1 : 0);
  const BorderWeightOptions o{.w0 = 10.0, .sigma = 2.0, .border_class = 0};
  const std::vector<double> class_weights{2.0, 0.5};
  const Tensor w = border_weight_map(label_map(5, 7, ids), o, class_weights);
  const double gap = 2.0 + 10.0 * std::exp(-16.0 / 8.0);
  for (int i = 0; i < 35; ++i) CHECK(w.data<float>()[i] == doctest::Approx(ids[i] ? 0.5 : gap).epsilon(1e-6));
}

TEST_CASE("border_weight_map: matches the definition computed by brute force on random masks") {
  tg::Rng rng(7);
  for (int trial = 0; trial < 12; ++trial) {
    const int h = 5 + static_cast<int>(rng.uniform_int(20)), w = 5 + static_cast<int>(rng.uniform_int(20));
    std::vector<int> ids(static_cast<size_t>(h) * w);
    for (int& id : ids) id = rng.uniform() < 0.45 ? 1 : 0;
    const double sigma = 1.0 + 3.0 * rng.uniform();
    const std::vector<double> expected = brute_force(ids, h, w, 10.0, sigma);
    const Tensor got = border_weight_map(label_map(h, w, ids), {.w0 = 10.0, .sigma = sigma});
    for (size_t i = 0; i < ids.size(); ++i)
      REQUIRE_MESSAGE(std::abs(got.data<float>()[i] - expected[i]) < 2e-5 * (1.0 + expected[i]),
                      "trial " << trial << " pixel " << i << " (" << h << "x" << w << ", sigma " << sigma << "): got "
                               << got.data<float>()[i] << ", want " << expected[i]);
  }
}

TEST_CASE("border_weight_map: void pixels weigh 0, and the border class may be any class") {
  // Class 2 separates objects of classes 0 and 1; 9 is void and neither an object nor a gap.
  const std::vector<int> ids{0, 2, 1, 9, 2, 0};
  const Tensor w = border_weight_map(label_map(1, 6, ids), {.w0 = 4.0, .sigma = 1.0, .border_class = 2}, {}, 9);
  CHECK(w.data<float>()[3] == 0.0f);
  CHECK(w.data<float>()[0] == 1.0f);
  CHECK(w.data<float>()[2] == 1.0f);
  CHECK(w.data<float>()[1] == doctest::Approx(1.0 + 4.0 * std::exp(-4.0 / 2.0)));  // d1 = d2 = 1
  // The gap at 4 has the object at 5 next to it and the object at 2 two pixels away (through the void pixel).
  CHECK(w.data<float>()[4] == doctest::Approx(1.0 + 4.0 * std::exp(-9.0 / 2.0)));
  CHECK_THROWS_WITH_AS(border_weight_map(label_map(1, 6, ids), {.sigma = 0.0}),
                       doctest::Contains("sigma"), std::invalid_argument);
}

TEST_CASE("WeightMapDataset: maps come with the samples, computed once per sample") {
  tg::Rng rng(3);
  Tensor images({3, 16, 16, 1}), labels({3, 16, 16});
  for (int64_t i = 0; i < labels.numel(); ++i) labels.data<float>()[i] = rng.uniform() < 0.5 ? 1.0f : 0.0f;
  auto inner = std::make_shared<TensorDataset>(images, labels);
  const WeightMapDataset data(inner, {.w0 = 10.0, .sigma = 3.0}, {1.0, 2.0});
  for (int round = 0; round < 3; ++round)
    for (size_t i = 0; i < 3; ++i) {
      const Sample s = data.get(i);
      REQUIRE(s.weights.shape() == tg::Shape{16, 16});
      const Tensor want = border_weight_map(s.labels, {.w0 = 10.0, .sigma = 3.0}, std::vector<double>{1.0, 2.0});
      CHECK(std::equal(want.data<float>(), want.data<float>() + 256, s.weights.data<float>()));
    }
  CHECK(data.maps_computed() == 3);
  // A cache of two maps' bytes keeps samples 0 and 1; sample 2 is computed at every read.
  const WeightMapDataset small(inner, {.w0 = 10.0, .sigma = 3.0}, {}, 2 * 256 * sizeof(float));
  for (int round = 0; round < 3; ++round)
    for (size_t i = 0; i < 3; ++i) CHECK(small.get(i).weights.shape() == tg::Shape{16, 16});
  CHECK(small.maps_computed() == 5);
  CHECK_THROWS_WITH_AS(WeightMapDataset(inner, {.border_class = 2}), doctest::Contains("border_class 2"),
                       std::invalid_argument);
}

TEST_CASE("augment moves the weight map with the labels, and draws the same numbers with or without it") {
  AugmentOptions o = AugmentOptions::strong();
  o.crop_scale = 0.7;
  o.fill_mode = FillMode::Constant;
  o.mask_fill_value = 0.0f;
  tg::Rng pick(11);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Sample plain{Tensor({24, 24, 1}), Tensor({24, 24})};
    for (int i = 0; i < 24 * 24; ++i) {
      plain.labels.data<float>()[i] = static_cast<float>(pick.uniform_int(3));
      plain.image.data<float>()[i] = plain.labels.data<float>()[i] / 2.0f;
    }
    // Weights that are a function of the label (1 + 2 * label) must still be that function after any transform;
    // pixels filled from outside the image get label 0 and weight 1, which fits it too.
    Sample weighted{plain.image.clone(), plain.labels.clone(), Tensor({24, 24})};
    for (int i = 0; i < 24 * 24; ++i) weighted.weights.data<float>()[i] = 1.0f + 2.0f * plain.labels.data<float>()[i];
    tg::Rng a(seed), b(seed);
    augment(plain, o, a);
    augment(weighted, o, b);
    REQUIRE(std::equal(plain.labels.data<float>(), plain.labels.data<float>() + 576, weighted.labels.data<float>()));
    REQUIRE(std::equal(plain.image.data<float>(), plain.image.data<float>() + 576, weighted.image.data<float>()));
    for (int i = 0; i < 576; ++i)
      REQUIRE(weighted.weights.data<float>()[i] == 1.0f + 2.0f * weighted.labels.data<float>()[i]);
  }
}

TEST_CASE("DataLoader stacks the samples' weight maps into Batch::weights, moved with the augmented labels") {
  tg::Rng rng(5);
  Tensor images({5, 12, 12, 1}), labels({5, 12, 12});
  for (int64_t i = 0; i < labels.numel(); ++i) labels.data<float>()[i] = rng.uniform() < 0.4 ? 0.0f : 1.0f;
  auto plain = std::make_shared<TensorDataset>(images, labels);
  auto weighted = std::make_shared<WeightMapDataset>(plain, BorderWeightOptions{.w0 = 5.0, .sigma = 2.0});
  LoaderOptions o;
  o.batch_size = 2;
  o.seed = 9;
  AugmentOptions a;
  a.horizontal_flip = a.rotate90 = true;
  o.augment = a;
  DataLoader with(weighted, all_indices(5), o), without(plain, all_indices(5), o);
  for (int step = 0; step < 3; ++step) {
    const Batch b = with.next(), p = without.next();
    CHECK_FALSE(p.weights.defined());
    REQUIRE(b.weights.shape() == tg::Shape{b.size(), 12, 12});
    CHECK(b.labels.to_vector() == p.labels.to_vector());  // the maps change no random draw
    for (int64_t k = 0; k < b.size(); ++k) {
      // The map of the augmented labels equals the augmented map (flips and quarter turns preserve distances).
      const Tensor want = border_weight_map(b.labels.slice(k, k + 1).reshape({12, 12}), {.w0 = 5.0, .sigma = 2.0});
      const Tensor got = b.weights.slice(k, k + 1).reshape({12, 12});
      for (int64_t i = 0; i < 144; ++i) REQUIRE(got.flat(i) == doctest::Approx(want.flat(i)).epsilon(1e-5));
    }
  }
}
