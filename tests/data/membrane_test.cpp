// The ISBI 2012 membrane set as the classic Keras U-Net reads it (../shared/datasets/membrane, read only).
#include "data_test_util.h"
#include "tests/skip.h"

#include <algorithm>

using namespace tg::data;

namespace {
FolderOptions membrane_options(const std::filesystem::path& dir) {
  FolderOptions o;
  o.root = dir / "train";  // train/image + train/label, detected
  o.height = o.width = 256;
  return o;
}
}  // namespace

TEST_CASE("membrane: 30 pairs of 512x512 grey images and 0/255 labels, resized to 256x256" * doctest::test_suite("slow")) {
  const auto dir = tg::testing::membrane_dir();
  if (dir.empty()) TG_SKIP_TEST("no membrane data at " << TAPEGRAD_SHARED_DIR << "/datasets/membrane");
  const FolderDataset ds(membrane_options(dir));
  REQUIRE(ds.size() == 30);
  CHECK(ds.layout().image_dir.filename() == "image");
  CHECK(ds.layout().mask_dir.filename() == "label");
  for (size_t i = 0; i < 30; ++i) CHECK(ds.name(i) == std::to_string(i));
  CHECK(ds.spec().channels == 1);
  CHECK(probe_image(ds.pair(0).image).width == 512);

  // SOURCE.md: 78.0% of all label pixels are 255 ("inside a cell"); nearest resizing keeps that share
  double ones = 0, pixels = 0;
  for (size_t i = 0; i < 30; ++i) {
    const Sample s = ds.get(i);
    CHECK(s.image.shape() == tg::Shape{256, 256, 1});
    CHECK(tg::testing::all(s.labels.to_vector(), [](double v) { return v == 0 || v == 1; }));
    for (double v : s.labels.to_vector()) ones += v;
    pixels += static_cast<double>(s.labels.numel());
  }
  CHECK(ones / pixels == doctest::Approx(0.78).epsilon(0.01));
}

TEST_CASE("membrane: images 25-29 held out, a Keras-style augmented loader of batch 2" * doctest::test_suite("slow")) {
  const auto dir = tg::testing::membrane_dir();
  if (dir.empty()) TG_SKIP_TEST("no membrane data at " << TAPEGRAD_SHARED_DIR << "/datasets/membrane");
  auto ds = std::make_shared<FolderDataset>(membrane_options(dir));
  const Split split = split_by_names(*ds, parse_name_list("25-29"));
  CHECK(split.validation == std::vector<size_t>{25, 26, 27, 28, 29});
  CHECK(split.train.size() == 25);

  LoaderOptions o;
  o.batch_size = 2;
  o.workers = 2;
  o.seed = 1;
  o.augment = AugmentOptions::keras_membrane();
  DataLoader train(ds, split.train, o);
  CHECK(train.steps_per_epoch() == 13);
  const Batch b = train.next();
  CHECK(b.images.shape() == tg::Shape{2, 256, 256, 1});
  CHECK(b.labels.shape() == tg::Shape{2, 256, 256});
  CHECK(tg::testing::all(b.labels.to_vector(), [](double v) { return v == 0 || v == 1; }));
  for (size_t i : b.indices) CHECK(i < 25);
}
