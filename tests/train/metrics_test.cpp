#include <doctest/doctest.h>

#include "train/metrics.h"

using namespace tg;
using namespace tg::train;

TEST_CASE("metrics: confusion matrix by hand (argmax over classes, ties to the lower class)") {
  // 2x3 image, 3 classes. Scores per pixel; truth below.
  const Tensor scores = Tensor::from({0.9, 0.1, 0.0,    // -> 0
                                      0.1, 0.8, 0.1,    // -> 1
                                      0.2, 0.2, 0.6,    // -> 2
                                      0.5, 0.5, 0.0,    // tie -> 0
                                      0.1, 0.7, 0.2,    // -> 1
                                      0.3, 0.3, 0.4},   // -> 2
                                     {1, 2, 3, 3});
  const Tensor truth = Tensor::from({0, 1, 1, 1, 1, 0}, {1, 2, 3});
  ConfusionMatrix m(3);
  m.add(scores, truth);
  CHECK(m.total() == 6);
  CHECK(m.count(0, 0) == 1);
  CHECK(m.count(0, 2) == 1);
  CHECK(m.count(1, 1) == 2);
  CHECK(m.count(1, 2) == 1);
  CHECK(m.count(1, 0) == 1);
  CHECK(m.pixel_accuracy() == doctest::Approx(3.0 / 6.0));
  // class 0: tp 1, fn 1 (pred 2), fp 1 (truth 1 -> pred 0): IoU 1/3, Dice 2/4.
  CHECK(m.iou(0) == doctest::Approx(1.0 / 3.0));
  CHECK(m.dice(0) == doctest::Approx(0.5));
  // class 1: tp 2, fn 2, fp 0: IoU 2/4, Dice 4/6.
  CHECK(m.iou(1) == doctest::Approx(0.5));
  CHECK(m.dice(1) == doctest::Approx(4.0 / 6.0));
  // class 2: tp 0, fp 2: IoU 0, Dice 0.
  CHECK(m.iou(2) == 0.0);
  CHECK(m.mean_iou() == doctest::Approx((1.0 / 3.0 + 0.5 + 0.0) / 3.0));
  const MetricLogs logs = m.metrics("val_");
  CHECK(logs.at("val_dice_1") == doctest::Approx(4.0 / 6.0));
  CHECK(logs.at("val_pixel_accuracy") == doctest::Approx(0.5));
  CHECK(logs.count("val_mean_dice") == 1);
}

TEST_CASE("metrics: ignore_index pixels are not counted, absent classes are left out of the means") {
  const Tensor scores = Tensor::from({2.0, -1.0, 0.0, 3.0, 0.0, 0.0, -5.0, 1.0, 0.0}, {3, 3});
  const Tensor truth = Tensor::from({0, 255, 1}, {3});
  ConfusionMatrix m(3, 255);
  m.add(scores, truth);
  CHECK(m.total() == 2);
  CHECK(m.pixel_accuracy() == 1.0);
  CHECK(m.iou(2) == 1.0);      // never seen, never predicted
  CHECK(m.mean_iou() == 1.0);  // over classes 0 and 1 only
  ConfusionMatrix strict(3);
  CHECK_THROWS_WITH_AS(strict.add(scores, truth), doctest::Contains("label 255 at pixel 1"), std::invalid_argument);
}

TEST_CASE("metrics: a single-channel (sigmoid) output is thresholded into two classes") {
  const Tensor logits = Tensor::from({-2.0, 0.5, 3.0, -0.1}, {1, 2, 2, 1});
  const Tensor truth = Tensor::from({0, 1, 0, 0}, {1, 2, 2});
  ConfusionMatrix m(2);
  m.add(logits, truth);  // logits: threshold 0
  CHECK(m.count(0, 0) == 2);
  CHECK(m.count(0, 1) == 1);
  CHECK(m.count(1, 1) == 1);
  ConfusionMatrix probs(2);
  probs.add(Tensor::from({0.2, 0.4, 0.9, 0.6}, {4, 1}), truth, 0.5);
  CHECK(probs.count(1, 0) == 1);  // 0.4 is below 0.5
  CHECK(probs.count(0, 1) == 2);
}

TEST_CASE("metrics: the matrix round-trips through JSON and batches add up") {
  ConfusionMatrix m(2);
  m.add(Tensor::from({1.0, 0.0, 0.0, 1.0}, {2, 2}), Tensor::from({0, 0}, {2}));
  m.add(Tensor::from({0.0, 1.0}, {1, 2}), Tensor::from({1}, {1}));
  const ConfusionMatrix back = ConfusionMatrix::from_json(nlohmann::json::parse(m.to_json().dump()));
  CHECK(back.metrics() == m.metrics());
  CHECK(back.total() == 3);
  CHECK_THROWS_AS(m.add(Tensor({2, 3}), Tensor({2})), std::invalid_argument);
}
