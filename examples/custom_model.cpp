// A model of your own, as a new user writes it from the README: Conv2D + BatchNormalization, pooling,
// Conv2DTranspose, concatenate, dropout and a softmax output; trained with fit (which writes checkpoints), reloaded
// with load_model, and used with Model::predict. The exit status says whether what a user relies on holds:
// the reloaded model predicts exactly what the trained one does, the same image twice gives the same prediction,
// and predicting leaves BatchNormalization's moving statistics alone.
//
//   example_custom_model [size=32] [epochs=2] [samples=48]
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include "autograd/argmax.h"        // tg::argmax
#include "data/split.h"             // data::split_by_fraction
#include "data/synthetic.h"         // data::SyntheticDataset
#include "layers/layers.h"          // layers, Model, load_model
#include "train/fit.h"              // train::fit

using namespace tg;

Model build_model(int size, int num_classes) {
  auto inputs = Input({size, size, 1});
  auto conv1 = Conv2D(8, 3).padding("same").use_bias(false)(inputs);
  conv1 = Activation("relu")(BatchNormalization()(conv1));
  auto pool1 = MaxPooling2D({2, 2})(conv1);
  auto conv2 = Conv2D(16, 3).padding("same").use_bias(false)(pool1);
  conv2 = Activation("relu")(BatchNormalization()(conv2));
  auto drop2 = Dropout(0.25)(conv2);
  auto up1 = Conv2DTranspose(8, 2).strides(2).padding("same")(drop2);
  auto merge1 = concatenate({conv1, up1});
  auto conv3 = Conv2D(8, 3).activation("relu").padding("same")(merge1);
  auto outputs = Conv2D(num_classes, 1).activation("softmax")(conv3);
  return Model(inputs, outputs, /*seed=*/1, "custom");
}

// Every non-trainable weight (BatchNormalization's moving mean and variance), flattened.
std::vector<double> moving_statistics(const Model& model) {
  std::vector<double> all;
  for (const Weight& w : model.non_trainable_weights()) {
    const std::vector<double> v = w.variable.value().to_vector();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

int main(int argc, char** argv) {
  const int size = argc > 1 ? std::atoi(argv[1]) : 32;
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 2;
  const size_t samples = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 48;
  if (size <= 0 || size % 2 != 0 || epochs <= 0 || samples < 10) {
    std::fprintf(stderr, "usage: example_custom_model [size, even] [epochs > 0] [samples >= 10]\n");
    return 2;
  }
  const int num_classes = 3;
  Model model = build_model(size, num_classes);
  model.print_summary();

  data::SyntheticOptions synthetic;
  synthetic.count = samples;
  synthetic.height = synthetic.width = size;
  synthetic.num_classes = num_classes;
  synthetic.seed = 1;
  auto shapes = std::make_shared<data::SyntheticDataset>(synthetic);
  const data::Split split = data::split_by_fraction(shapes->size(), 0.25, 1);
  const train::DataSource train_set{shapes, split.train}, validation_set{shapes, split.validation};

  const std::filesystem::path run_dir =
      std::filesystem::temp_directory_path() / ("tapegrad_example_custom_model_" + std::to_string(::getpid()));
  train::FitOptions options;
  options.epochs = epochs;
  options.batch_size = 8;
  options.seed = 1;
  options.optimizer = {{"name", "adam"}, {"learning_rate", 1e-2}};
  options.run_dir = run_dir;  // checkpoints/last.safetensors and best.safetensors, log.txt, metrics.csv
  options.console = false;
  options.progress = train::ProgressMode::Off;
  const train::FitResult result = train::fit(model, train_set, &validation_set, options);
  for (const train::EpochRecord& e : result.history)
    std::printf("epoch %lld  loss %.4f  val_loss %.4f  val_mean_iou %.4f\n", (long long)e.epoch, e.metrics.at("loss"),
                e.metrics.at("val_loss"), e.metrics.at("val_mean_iou"));

  // The model as a later program sees it: rebuilt from the checkpoint alone, no code needed.
  Model loaded = load_model(result.last_checkpoint);
  std::filesystem::remove_all(run_dir);

  // The validation images as one [N, H, W, 1] batch, and their label maps.
  const auto n = static_cast<int64_t>(split.validation.size());
  Tensor images({n, size, size, 1}), labels({n, size, size});
  for (int64_t i = 0; i < n; ++i) {
    const data::Sample s = shapes->get(split.validation[static_cast<size_t>(i)]);
    images.slice(i, i + 1).copy_from(s.image);
    labels.slice(i, i + 1).copy_from(s.labels);
  }

  const std::vector<double> statistics = moving_statistics(loaded);
  const Tensor first = loaded.predict(images, /*batch_size=*/4);  // [N, H, W, 3] probabilities
  const Tensor second = loaded.predict(images, /*batch_size=*/4);
  const Tensor trained = model.predict(images, /*batch_size=*/4);
  const Tensor classes = argmax(first);  // [N, H, W] class ids
  int64_t correct = 0;
  for (int64_t i = 0; i < classes.numel(); ++i) correct += classes.flat(i) == labels.flat(i);

  const bool repeatable = first.to_vector() == second.to_vector();
  const bool statistics_kept = moving_statistics(loaded) == statistics;
  const bool same_as_trained = first.to_vector() == trained.to_vector();
  const bool loss_fell = result.history.back().metrics.at("loss") < result.history.front().metrics.at("loss") ||
                         result.history.size() == 1;
  std::printf("pixel accuracy of the reloaded model on %lld validation images: %.4f\n", (long long)n,
              double(correct) / double(classes.numel()));
  std::printf("the same images predicted twice: %s\n", repeatable ? "identical" : "DIFFERENT");
  std::printf("BatchNormalization moving statistics after predicting: %s\n", statistics_kept ? "unchanged" : "CHANGED");
  std::printf("reloaded model against the trained one: %s\n", same_as_trained ? "identical" : "DIFFERENT");
  std::printf("training loss %s\n", loss_fell ? "fell" : "did NOT fall");
  return repeatable && statistics_kept && same_as_trained && loss_fell ? 0 : 1;
}
