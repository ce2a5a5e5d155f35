#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "tests/train/train_test_util.h"
#include "train/evaluate.h"
#include "train/predict.h"
#include "train/validation.h"

using namespace tg;
using namespace tg::train;
using namespace tg::train::testing;

TEST_CASE("validation split: Keras's rule, the last fraction of the samples in their given order") {
  const auto data = shapes(16, 10);
  FitOptions o;
  o.validation_split = 0.25;  // floor(10 * 0.75) = 7 train, the last 3 validate
  TrainAndValidation tv = resolve_validation(DataSource{data, {}}, nullptr, o);
  CHECK(tv.train.indices == range(0, 7));
  CHECK(tv.validation.indices == range(7, 10));
  CHECK(tv.validation.dataset == data);

  // Given indices keep their order: "last" means last as given, not the largest.
  const std::vector<size_t> order = {9, 2, 7, 4, 0, 5};
  o.validation_split = 0.5;
  tv = resolve_validation(DataSource{data, order}, nullptr, o);
  CHECK(tv.train.indices == std::vector<size_t>{9, 2, 7});
  CHECK(tv.validation.indices == std::vector<size_t>{4, 0, 5});

  // No split: the validation data as given, or none.
  o.validation_split = 0.0;
  const DataSource held_out{data, {8, 9}};
  CHECK(resolve_validation(DataSource{data, order}, &held_out, o).validation.indices == held_out.indices);
  CHECK(resolve_validation(DataSource{data, order}, nullptr, o).validation.dataset == nullptr);

  o.validation_split = 0.2;
  CHECK_THROWS_WITH_AS(resolve_validation(DataSource{data, order}, &held_out, o),
                       doctest::Contains("validation data and validation_split are both given"), std::invalid_argument);
  o.validation_split = 0.05;  // floor(6 * 0.95) = 5: still one to validate
  CHECK(resolve_validation(DataSource{data, order}, nullptr, o).validation.indices == std::vector<size_t>{5});
  o.validation_split = 0.5;
  CHECK_THROWS_WITH_AS(resolve_validation(DataSource{data, {1}}, nullptr, o),
                       doctest::Contains("leaves 0 to train and 1 to validate"), std::invalid_argument);
  o.validation_split = 1.0;
  CHECK_THROWS_WITH_AS(resolve_validation(DataSource{data, order}, nullptr, o), doctest::Contains("[0, 1)"),
                       std::invalid_argument);
}

TEST_CASE("validation pass: evaluate() with the run's loss and normalisation, val_ names, its batch size and steps") {
  const auto data = shapes(16, 10);
  Model model = small_unet();
  FitOptions o;
  o.batch_size = 4;
  o.validation_batch_size = 3;
  o.validation_steps = 2;  // 2 batches of 3: the first 6 samples
  o.mean = {0.5f};
  o.std = {0.25f};
  o.loss = "crossentropy+dice";
  o.augment = data::AugmentOptions{};
  o.augment->horizontal_flip = true;  // training only: validation sees the samples as they are
  const DataSource validation{data, range(0, 10)};
  const MetricLogs m = validate(model, validation, o);

  EvaluateOptions by_hand;
  by_hand.batch_size = 3;
  by_hand.mean = {0.5f};
  by_hand.std = {0.25f};
  by_hand.loss = "crossentropy+dice";
  const MetricLogs first_six = evaluate(model, DataSource{data, range(0, 6)}, by_hand, "val_");
  CHECK(m == first_six);
  CHECK(m.count("val_loss") == 1);
  CHECK(m.count("loss") == 0);
  by_hand.mean.clear();
  by_hand.std.clear();
  CHECK(evaluate(model, DataSource{data, range(0, 6)}, by_hand, "val_").at("val_loss") != m.at("val_loss"));
  CHECK_FALSE(model.training());
}

TEST_CASE("evaluate --tta: loss and accuracy of the probabilities averaged over the 8 views, as predict_image gives") {
  const auto data = shapes(16, 5);
  Model model = one_conv();  // a 3x3 kernel: its views disagree, so the average is not the plain prediction
  EvaluateOptions o;
  o.batch_size = 2;
  o.loss = "sparse_categorical_crossentropy";
  o.flips = true;
  const MetricLogs tta = evaluate(model, DataSource{data, {}}, o);

  // By hand, image by image, from predict_image's own eight-view average (tested on its own against the views).
  train::PredictImageOptions views;
  views.flips = true;
  double nll = 0, correct = 0, pixels = 0;
  for (size_t i = 0; i < data->size(); ++i) {
    const data::Sample s = data->get(i);
    const Tensor p = train::predict_image(model, s.image, views);
    for (int64_t px = 0; px < s.labels.numel(); ++px) {
      const int label = static_cast<int>(s.labels.flat(px));
      nll -= std::log(std::max(p.flat(2 * px + label), 1e-7));
      correct += (p.flat(2 * px + 1) > p.flat(2 * px)) == (label == 1);
      pixels += 1;
    }
  }
  CHECK(tta.at("loss") == doctest::Approx(nll / pixels).epsilon(1e-5));
  CHECK(tta.at("pixel_accuracy") == doctest::Approx(correct / pixels));
  o.flips = false;
  CHECK(evaluate(model, DataSource{data, {}}, o).at("loss") != doctest::Approx(tta.at("loss")).epsilon(1e-4));
}
