#include "data_test_util.h"

#include <cmath>

using namespace tg::data;

TEST_CASE("resize: bilinear halving averages 2x2 blocks (half-pixel centres)") {
  const tg::Tensor img = tg::Tensor::from({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, {4, 4, 1});
  const tg::Tensor out = resize_bilinear(img, 2, 2);
  CHECK(out.shape() == tg::Shape{2, 2, 1});
  CHECK(out.to_vector() == std::vector<double>{3.5, 5.5, 11.5, 13.5});
}

TEST_CASE("resize: bilinear doubling matches the hand-derived weights 1, 3/4 1/4, 1/4 3/4, 1") {
  // source coordinates of outputs 0..3 for 2 -> 4: -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
  const tg::Tensor img = tg::Tensor::from({0, 8, 16, 32}, {1, 2, 2});  // two channels: [0, 16] and [8, 32]
  const tg::Tensor out = resize_bilinear(img, 1, 4);
  CHECK(out.to_vector() == std::vector<double>{0, 8, 4, 14, 12, 26, 16, 32});
}

TEST_CASE("resize: nearest keeps class ids exact and picks floor((d + 0.5) * in / out)") {
  const tg::Tensor lab = tg::Tensor::from({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {4, 4});
  CHECK(resize_nearest(lab, 2, 2).to_vector() == std::vector<double>{5, 7, 13, 15});  // rows/cols 1 and 3
  CHECK(resize_nearest(lab, 1, 8).to_vector() == std::vector<double>{8, 8, 9, 9, 10, 10, 11, 11});  // row 2
  // Other phases: floor((d + phase) * in / out); rows 0 and 2 with phase 0, columns 1 and 3 with 0.75.
  CHECK(resize_nearest(lab, 2, 2, 0.0, 0.75).to_vector() == std::vector<double>{1, 3, 9, 11});
  CHECK(resize_nearest(lab, 2, 2, 0.25, 0.0).to_vector() == std::vector<double>{0, 2, 8, 10});
  CHECK_THROWS_AS(resize_nearest(lab, 2, 2, 1.0, 0.5), std::invalid_argument);
}

TEST_CASE("resize: crop copies the window and checks it fits") {
  const tg::Tensor lab = tg::Tensor::from({0, 1, 2, 3, 4, 5, 6, 7, 8}, {3, 3});
  CHECK(crop(lab, 1, 1, 2, 2).to_vector() == std::vector<double>{4, 5, 7, 8});
  CHECK_THROWS_AS(crop(lab, 2, 0, 2, 2), std::invalid_argument);
  CHECK_THROWS_AS(resize_bilinear(lab.reshape({3, 3, 1}), 0, 2), std::invalid_argument);
}

TEST_CASE("resize: bilinear 3x5 -> 2x7 matches PyTorch interpolate(align_corners=False)") {
  // x = arange(15) ** 1.5 as [1, 1, 3, 5]; y = F.interpolate(x, size=(2, 7), mode='bilinear', align_corners=False)
  std::vector<double> x(15);
  for (int i = 0; i < 15; ++i) x[i] = std::pow(i, 1.5);
  const std::vector<double> want{2.7950849719,  3.7260276246,  5.0891347638,  6.7513851379,  8.7532304441,
                                 10.9236963237, 12.75,         26.5121674231, 29.0974369725, 32.3994149049,
                                 35.8069793306, 39.3812649411, 43.0508749178, 46.0374025611};
  const std::vector<double> got = resize_bilinear(tg::Tensor::from(x, {3, 5, 1}), 2, 7).to_vector();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-5));
}

TEST_CASE("pad_mirrored repeats the edge pixel and mirrors back and forth beyond the size") {
  const tg::Tensor row = tg::Tensor::from({1, 2, 3, 4}, {1, 4});
  const tg::Tensor padded = tg::data::pad_mirrored(row, 1, 0, 2, 6);
  REQUIRE(padded.shape() == tg::Shape{2, 12});
  const std::vector<double> expected = {2, 1, 1, 2, 3, 4, 4, 3, 2, 1, 1, 2};
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 12; ++x) CHECK(padded.flat(y * 12 + x) == expected[size_t(x)]);
  CHECK_THROWS_AS(tg::data::pad_mirrored(row, -1, 0, 0, 0), std::invalid_argument);
}
