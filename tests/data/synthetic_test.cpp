#include "data_test_util.h"

#include <algorithm>
#include <cmath>

using namespace tg::data;
using tg::testing::TempDir;

TEST_CASE("synthetic: sample i is a pure function of (seed, i)") {
  SyntheticOptions o;
  o.count = 10;
  o.height = 24;
  o.width = 40;
  o.seed = 3;
  const SyntheticDataset a(o), b(o);
  o.seed = 4;
  const SyntheticDataset c(o);
  CHECK(a.get(5).image.to_vector() == b.get(5).image.to_vector());
  CHECK(a.get(5).labels.to_vector() == b.get(5).labels.to_vector());
  CHECK(a.get(5).image.to_vector() != a.get(6).image.to_vector());
  CHECK(a.get(5).image.to_vector() != c.get(5).image.to_vector());
  // order of access does not matter
  const auto seven = a.get(7).image.to_vector();
  a.get(2);
  CHECK(a.get(7).image.to_vector() == seven);
  CHECK(a.name(7) == "00007");
  CHECK_THROWS_AS(a.get(10), std::out_of_range);
}

TEST_CASE("synthetic: every class appears, labels are class ids, and each class has its own look") {
  for (int channels : {1, 3}) {
    CAPTURE(channels);
    SyntheticOptions o;
    o.count = 24;
    o.height = o.width = 48;
    o.channels = channels;
    o.num_classes = 5;
    o.noise = 0.0;
    const SyntheticDataset ds(o);
    CHECK(ds.spec().channels == channels);
    std::vector<int64_t> pixels(5, 0);
    std::vector<double> brightness(5, 0.0);
    for (size_t i = 0; i < ds.size(); ++i) {
      const Sample s = ds.get(i);
      CHECK(s.image.shape() == tg::Shape{48, 48, channels});
      for (int64_t p = 0; p < s.labels.numel(); ++p) {
        const float c = s.labels.data<float>()[p];
        if (!(c >= 0 && c < 5 && c == std::floor(c))) FAIL("label " << c << " is not a class id");
        pixels[static_cast<int>(c)]++;
        brightness[static_cast<int>(c)] += s.image.data<float>()[p * channels];
      }
      CHECK(tg::testing::all(s.image.to_vector(), [](double v) { return v >= 0.0 && v <= 1.0; }));
    }
    for (int c = 0; c < 5; ++c) CHECK(pixels[c] > 0);
    CHECK(pixels[0] > pixels[1]);  // background dominates
    if (channels == 1) {
      // background (<= 0.4) is darker than every shape class (0.55 .. 0.95), and the classes differ
      std::vector<double> mean(5);
      for (int c = 0; c < 5; ++c) mean[c] = brightness[c] / static_cast<double>(pixels[c]);
      CHECK(mean[0] < 0.45);
      for (int c = 1; c < 5; ++c) CHECK(mean[c] == doctest::Approx(0.55 + 0.4 * (c - 1) / 3.0).epsilon(0.01));
    }
  }
}

TEST_CASE("synthetic: noise makes the image vary inside a flat region") {
  SyntheticOptions o;
  o.count = 1;
  o.min_shapes = o.max_shapes = 0;
  o.noise = 0.1;
  const Sample s = SyntheticDataset(o).get(0);
  CHECK(tg::testing::all(s.labels.to_vector(), [](double v) { return v == 0.0; }));
  // neighbouring pixels differ by much more than the smooth background alone (waves of period >= 8 px) allows
  double diff = 0;
  for (int x = 0; x + 1 < o.width; ++x) diff += std::abs(s.image.at({10, x + 1, 0}) - s.image.at({10, x, 0}));
  CHECK(diff / (o.width - 1) > 0.05);
  CHECK_THROWS_AS(SyntheticDataset(SyntheticOptions{.num_classes = 1}), std::invalid_argument);
  CHECK_THROWS_AS(SyntheticDataset(SyntheticOptions{.channels = 2}), std::invalid_argument);
}

TEST_CASE("synthetic: written as PNG folders, the folder loader reads the same samples back") {
  TempDir tmp;
  for (int classes : {2, 4}) {
    CAPTURE(classes);
    SyntheticOptions o;
    o.count = 3;
    o.height = 20;
    o.width = 28;
    o.channels = classes == 2 ? 1 : 3;
    o.num_classes = classes;
    const SyntheticDataset ds(o);
    const auto dir = tmp / ("k" + std::to_string(classes));
    write_dataset(ds, dir);
    FolderOptions f;
    f.root = dir;
    f.height = 20;
    f.width = 28;
    f.num_classes = classes;
    f.mask = classes == 2 ? MaskEncoding::binary() : MaskEncoding::index();
    const FolderDataset back(f);
    REQUIRE(back.size() == 3);
    CHECK(back.spec().channels == o.channels);
    for (size_t i = 0; i < 3; ++i) {
      CHECK(back.name(i) == ds.name(i));
      const Sample want = ds.get(i), got = back.get(i);
      CHECK(got.labels.to_vector() == want.labels.to_vector());
      const auto a = want.image.to_vector(), b = got.image.to_vector();
      double worst = 0;
      for (size_t k = 0; k < a.size(); ++k) worst = std::max(worst, std::abs(a[k] - b[k]));
      CHECK(worst <= 0.5 / 255 + 1e-6);
    }
    // it never overwrites: a second write into the same folder is refused
    CHECK_THROWS_AS(write_dataset(ds, dir), DataError);
  }
  // two-class masks are 0/255 so that people can see them
  const RawImage mask = read_image(tmp / "k2" / "masks" / "00000.png");
  CHECK(tg::testing::all(mask.pixels, [](float v) { return v == 0.0f || v == 255.0f; }));
}
