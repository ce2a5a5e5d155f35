// Median frequency balancing, against weights worked out by hand.
#include <doctest/doctest.h>

#include "data/tensor_dataset.h"
#include "train/class_weights.h"

using namespace tg;
using namespace tg::train;

TEST_CASE("class weights: median frequency balancing of a small set, by hand") {
  // Three 2x2 samples, classes 0..3, 9 = void.
  //   sample 0: 0 0 0 1      sample 1: 0 0 2 9      sample 2: 1 1 0 0
  // class 0: 7 pixels in samples of 4 + 3 + 4 = 11 labelled pixels -> 7/11
  // class 1: 3 pixels in samples 0 and 2 (4 + 4) -> 3/8
  // class 2: 1 pixel in sample 1 (3 labelled) -> 1/3
  // class 3: nowhere -> weight 1
  // median of {7/11, 3/8, 1/3} = 3/8, so weights 3/8 / freq: 33/56, 1, 9/8, 1.
  const Tensor images = Tensor::zeros({3, 2, 2, 1});
  const Tensor labels = Tensor::from({0, 0, 0, 1, 0, 0, 2, 9, 1, 1, 0, 0}, {3, 2, 2});
  auto dataset = std::make_shared<data::TensorDataset>(images, labels, data::TensorDatasetOptions{4, 9});
  const std::vector<double> w = median_frequency_weights({dataset, {}});
  REQUIRE(w.size() == 4);
  CHECK(w[0] == doctest::Approx(33.0 / 56.0));
  CHECK(w[1] == doctest::Approx(1.0));
  CHECK(w[2] == doctest::Approx(9.0 / 8.0));
  CHECK(w[3] == 1.0);

  // Only the chosen samples count: sample 2 alone has classes 0 and 1 at 1/2 each.
  const std::vector<double> only = median_frequency_weights({dataset, {2}});
  CHECK(only[0] == doctest::Approx(1.0));
  CHECK(only[1] == doctest::Approx(1.0));
  CHECK(only[2] == 1.0);
}
