// TensorDataset: tensors the user already has, through the same loader, shuffling and augmentation.
#include "data_test_util.h"

#include <cmath>
#include <limits>
#include <set>

using namespace tg::data;
using tg::Shape;
using tg::Tensor;
using tg::testing::error_of;

namespace {

// n samples of 4x6 (non-square, so rotations are limited to 0 and 180 degrees) whose image pixel is
// (label + 1) / 10 + n_index / 100 and whose label is (y + x + sample) % 3: after any geometric augmentation the
// image still says which label every pixel must carry.
struct Pair {
  Tensor images, labels;
};
Pair numbered(int64_t n) {
  Pair p{Tensor({n, 4, 6, 1}), Tensor({n, 4, 6})};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t y = 0; y < 4; ++y)
      for (int64_t x = 0; x < 6; ++x) {
        const int64_t label = (y + x + i) % 3, flat = (i * 4 + y) * 6 + x;
        p.labels.data<float>()[flat] = static_cast<float>(label);
        p.images.data<float>()[flat] = static_cast<float>((label + 1) / 10.0 + i / 100.0);
      }
  return p;
}

}  // namespace

TEST_CASE("tensor dataset: samples are copies of the rows, the spec comes from the tensors") {
  const Pair p = numbered(5);
  const TensorDataset ds(p.images, p.labels);
  REQUIRE(ds.size() == 5);
  CHECK(ds.spec().height == 4);
  CHECK(ds.spec().width == 6);
  CHECK(ds.spec().channels == 1);
  CHECK(ds.spec().num_classes == 3);  // the largest id + 1
  CHECK(ds.spec().ignore_index == -1);
  CHECK(ds.name(3) == "00003");
  const Sample s = ds.get(3);
  CHECK(s.image.shape() == Shape{4, 6, 1});
  CHECK(s.labels.shape() == Shape{4, 6});
  CHECK(s.image.to_vector() == p.images.slice(3, 4).reshape({4, 6, 1}).to_vector());
  CHECK(s.labels.to_vector() == p.labels.slice(3, 4).reshape({4, 6}).to_vector());
  CHECK_FALSE(s.image.shares_storage(ds.get(3).image));  // the loader may augment it in place

  // The caller's tensors may change afterwards.
  Pair q = numbered(2);
  const TensorDataset copied(q.images, q.labels.reshape({2, 4, 6, 1}), {.num_classes = 4});
  q.images.fill(0.0);
  CHECK(copied.get(1).image.to_vector() == numbered(2).images.slice(1, 2).reshape({4, 6, 1}).to_vector());
  CHECK(copied.spec().num_classes == 4);
}

TEST_CASE("tensor dataset: the loader shuffles and augments it like any dataset, image and labels together") {
  const Pair p = numbered(10);
  auto ds = std::make_shared<TensorDataset>(p.images, p.labels);
  LoaderOptions o;
  o.batch_size = 4;
  o.seed = 3;
  o.workers = 2;
  AugmentOptions a;
  a.horizontal_flip = a.vertical_flip = a.rotate90 = true;
  o.augment = a;
  DataLoader loader(ds, all_indices(ds->size()), o);
  CHECK(loader.steps_per_epoch() == 3);
  std::multiset<size_t> seen;
  bool shuffled = false, augmented = false;
  for (int step = 0; step < 3; ++step) {
    const Batch b = loader.next();
    for (int64_t k = 0; k < b.size(); ++k) {
      const size_t i = b.indices[static_cast<size_t>(k)];
      seen.insert(i);
      shuffled = shuffled || i != static_cast<size_t>(step * 4 + k);
      const Tensor img = b.images.slice(k, k + 1), lab = b.labels.slice(k, k + 1);
      const Tensor original = p.labels.slice(static_cast<int64_t>(i), static_cast<int64_t>(i) + 1);
      augmented = augmented || lab.to_vector() != original.to_vector();
      for (int64_t px = 0; px < 24; ++px) {
        // Each pixel's image value still encodes its label and its sample.
        const double expected = (lab.flat(px) + 1) / 10.0 + static_cast<double>(i) / 100.0;
        REQUIRE(std::fabs(img.flat(px) - expected) < 1e-6);
      }
    }
  }
  CHECK(seen == std::multiset<size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(shuffled);
  CHECK(augmented);
}

TEST_CASE("tensor dataset bad input: shapes, labels that are not class ids, non-finite pixels") {
  const Pair p = numbered(3);
  CHECK(error_of([&] { TensorDataset(p.images.reshape({3, 4, 6}), p.labels); }).find("images must be [N, H, W, C]") !=
        std::string::npos);
  CHECK(error_of([&] { TensorDataset(p.images, Tensor({3, 6, 4})); }).find("labels must be [N, H, W] = [3, 4, 6]") !=
        std::string::npos);

  Tensor fractional = p.labels.clone();
  fractional.set_flat(2 * 24 + 1 * 6 + 5, 0.5);
  CHECK(error_of([&] { TensorDataset(p.images, fractional); })
            .find("labels hold 0.500000 at sample 2, pixel (x=5, y=1)") != std::string::npos);

  const std::string outside = error_of([&] { TensorDataset(p.images, p.labels, {.num_classes = 2}); });
  CHECK(outside.find("labels hold class 2 at sample 0, pixel (x=2, y=0)") != std::string::npos);
  CHECK(outside.find("TensorDatasetOptions::num_classes") != std::string::npos);

  Tensor ignored = p.labels.clone();
  ignored.set_flat(0, 255);
  const TensorDataset with_ignore(p.images, ignored, {.ignore_index = 255});
  CHECK(with_ignore.spec().num_classes == 3);  // the ignore index is not a class
  CHECK(with_ignore.get(0).labels.flat(0) == 255);

  Tensor broken = p.images.clone();
  broken.set_flat(7, std::numeric_limits<double>::quiet_NaN());
  CHECK(error_of([&] { TensorDataset(broken, p.labels); }).find("every pixel must be finite") != std::string::npos);
}
