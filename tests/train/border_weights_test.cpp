// fit with the U-Net paper's border weight map (FitOptions::border_weights) and the loss it weights.
#include <doctest/doctest.h>

#include "data/weight_map.h"
#include "tests/train/train_test_util.h"
#include "train/fit.h"
#include "train/loss.h"

using namespace tg;
using namespace tg::train;
using namespace tg::train::testing;

TEST_CASE("TrainingLoss: a weight map without its border term is the class-weighted loss") {
  Model model = small_unet();
  // Two objects (class 1) in each sample: squares either side of a 2-pixel class-0 gap, which the border term weighs.
  Tensor labels({2, 16, 16});
  for (int k = 0; k < 2; ++k)
    for (int y = 2; y < 12; ++y)
      for (int x = 1; x < 15; ++x)
        if (x < 7 + k || x > 8 + k) labels.data<float>()[(k * 16 + y) * 16 + x] = 1.0f;
  Tensor map({2, 16, 16});
  const std::vector<double> class_weights{0.3, 2.5};
  for (int k = 0; k < 2; ++k) {
    const Tensor one = data::border_weight_map(labels.slice(k, k + 1).reshape({16, 16}), {.w0 = 0.0}, class_weights);
    std::copy_n(one.data<float>(), 256, map.data<float>() + 256 * k);
  }
  const Tensor images = Tensor::full({2, 16, 16, 1}, 0.4);
  for (const char* name : {"sparse_categorical_crossentropy", "crossentropy+dice"}) {
    CAPTURE(name);
    const TrainingLoss weighted(name, model, 2, -1, class_weights);
    const Variable out = weighted.outputs(model, Variable(images));
    CHECK(weighted(out, labels, map).item() == doctest::Approx(weighted(out, labels).item()).epsilon(1e-6));
    // With the border term the membrane-like gaps weigh more, so the loss changes.
    Tensor bordered = map.clone();
    for (int k = 0; k < 2; ++k) {
      const Tensor one = data::border_weight_map(labels.slice(k, k + 1).reshape({16, 16}), {.w0 = 10.0, .sigma = 2.0},
                                                 class_weights);
      std::copy_n(one.data<float>(), 256, bordered.data<float>() + 256 * k);
    }
    CHECK(weighted(out, labels, bordered).item() != doctest::Approx(weighted(out, labels).item()));
  }
  const TrainingLoss dice("dice", model, 2, -1);
  CHECK_THROWS_WITH_AS(dice(dice.outputs(model, Variable(images)), labels, map), doctest::Contains("per-pixel weights"),
                       std::invalid_argument);
}

TEST_CASE("fit: border_weights train on the weighted loss, are recorded and resumed, and refuse a Dice loss") {
  TempDir dir;
  const auto data = shapes(16, 6);
  FitOptions o;
  o.epochs = 1;
  o.batch_size = 2;
  o.steps_per_epoch = 2;
  o.workers = 0;
  o.console = false;
  o.seed = 3;
  o.loss = "sparse_categorical_crossentropy";
  o.report_samples = 0;
  Model plain_model = small_unet(), weighted_model = small_unet();
  const FitResult plain = fit(plain_model, DataSource{data, {}}, nullptr, o);
  o.border_weights = data::BorderWeightOptions{.w0 = 10.0, .sigma = 2.0};
  o.run_dir = dir.path() / "run";
  const FitResult weighted = fit(weighted_model, DataSource{data, {}}, nullptr, o);
  CHECK(weighted.history.at(0).metrics.at("loss") != doctest::Approx(plain.history.at(0).metrics.at("loss")));
  CHECK_FALSE(same_weights(plain_model, weighted_model));
  const nlohmann::json config = nlohmann::json::parse(read_text(dir.path() / "run" / "config.json"));
  CHECK(config.dump().find("\"border_weights\":{\"border_class\":0,\"sigma\":2.0,\"w0\":10.0}") != std::string::npos);
  CHECK(FitOptions::from_json(o.to_json()).border_weights->sigma == 2.0);

  // Resuming with other border weights is another run: refused, naming the setting.
  FitOptions changed = o;
  changed.resume = true;
  changed.epochs = 2;
  changed.border_weights->w0 = 5.0;
  Model again = small_unet();
  CHECK_THROWS_WITH(fit(again, DataSource{data, {}}, nullptr, changed), doctest::Contains("border_weights"));

  FitOptions dice = o;
  dice.run_dir.clear();
  dice.loss = "dice";
  Model m = small_unet();
  CHECK_THROWS_WITH_AS(fit(m, DataSource{data, {}}, nullptr, dice), doctest::Contains("border_weights"),
                       std::invalid_argument);
}
