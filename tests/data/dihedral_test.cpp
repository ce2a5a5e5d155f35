// The eight symmetries of the square (data/dihedral.h), checked against hand-written layouts.
#include <doctest/doctest.h>

#include "data/dihedral.h"

using namespace tg;

namespace {

// A 2x3 one-channel image holding 0..5 row by row.
Tensor two_by_three() {
  Tensor t({2, 3, 1});
  for (int64_t i = 0; i < 6; ++i) t.set_flat(i, static_cast<double>(i));
  return t;
}

std::vector<double> values(const Tensor& t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back(t.flat(i));
  return v;
}

}  // namespace

TEST_CASE("dihedral: flips and the transpose lay the pixels out as written by hand") {
  // 0 1 2      flip columns: 2 1 0    flip rows: 3 4 5    transpose: 0 3
  // 3 4 5                    5 4 3               0 1 2               1 4
  //                                                                  2 5
  const Tensor t = two_by_three();
  CHECK(values(data::dihedral(t, 0, false)) == std::vector<double>{0, 1, 2, 3, 4, 5});
  CHECK(values(data::dihedral(t, 1, false)) == std::vector<double>{2, 1, 0, 5, 4, 3});
  CHECK(values(data::dihedral(t, 2, false)) == std::vector<double>{3, 4, 5, 0, 1, 2});
  const Tensor transposed = data::dihedral(t, 4, false);
  CHECK(transposed.shape() == Shape{3, 2, 1});
  CHECK(values(transposed) == std::vector<double>{0, 3, 1, 4, 2, 5});
  // Transpose, then flip the columns: a quarter turn clockwise.
  CHECK(values(data::dihedral(t, 5, false)) == std::vector<double>{3, 0, 4, 1, 5, 2});
}

TEST_CASE("dihedral: undo inverts every symmetry, channels move together, a batch is its images one by one") {
  Tensor batch({2, 3, 3, 2});
  // Channel 1 is channel 0 plus 100 at every pixel.
  for (int64_t i = 0; i < batch.numel(); ++i) batch.set_flat(i, static_cast<double>((i / 2) * 7 % 23 + 100 * (i % 2)));
  for (int k = 0; k < 8; ++k) {
    CAPTURE(k);
    const Tensor view = data::dihedral(batch, k, false);
    CHECK(values(data::dihedral(view, k, true)) == values(batch));
    for (int n = 0; n < 2; ++n) {
      Tensor image({3, 3, 2});
      for (int64_t i = 0; i < image.numel(); ++i) image.set_flat(i, batch.flat(n * 18 + i));
      const Tensor one = data::dihedral(image, k, false);
      for (int64_t i = 0; i < one.numel(); ++i) CHECK(one.flat(i) == view.flat(n * 18 + i));
      for (int64_t p = 0; p < 9; ++p) CHECK(one.flat(2 * p + 1) - one.flat(2 * p) == 100);
    }
  }
  CHECK(data::dihedral_views(4, 4) == 8);
  CHECK(data::dihedral_views(4, 5) == 4);
  CHECK_THROWS_WITH_AS(data::dihedral(batch, 8, false), doctest::Contains("symmetry 8"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(data::dihedral(Tensor({4, 4}), 0, false), doctest::Contains("[4, 4]"), std::invalid_argument);
}
