// Training on tensors you already have: images [N, H, W, C] and label maps [N, H, W] of class ids, made here in
// memory (bright discs on a noisy background, labelled 1), wrapped in a data::TensorDataset and trained with fit,
// shuffled and augmented (flips, 90-degree turns) like a folder of files. The exit status says whether the
// validation loss fell and the held-out pixel accuracy beats predicting the background everywhere.
//
//   example_tensor_dataset [size=24] [epochs=10]
#include <cstdio>
#include <cstdlib>

#include "autograd/argmax.h"         // tg::argmax
#include "autograd/random/rng.h"     // tg::Rng
#include "data/tensor_dataset.h"     // data::TensorDataset
#include "layers/layers.h"           // tg::unet
#include "train/fit.h"               // train::fit

using namespace tg;

struct Set {
  Tensor images, labels;
};

// n images of size x size, each a disc of random centre and radius; labels 1 inside, 0 outside.
Set discs(int64_t n, int size, uint64_t seed) {
  Set s{Tensor({n, size, size, 1}), Tensor({n, size, size})};
  Rng rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    const double cy = rng.uniform(0.25, 0.75) * size, cx = rng.uniform(0.25, 0.75) * size;
    const double r = rng.uniform(0.15, 0.3) * size;
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const bool inside = (y - cy) * (y - cy) + (x - cx) * (x - cx) < r * r;
        const int64_t p = (i * size + y) * size + x;
        s.labels.data<float>()[p] = inside ? 1.0f : 0.0f;
        s.images.data<float>()[p] = static_cast<float>((inside ? 0.7 : 0.3) + 0.1 * rng.normal());
      }
  }
  return s;
}

int main(int argc, char** argv) {
  const int size = argc > 1 ? std::atoi(argv[1]) : 24;
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 10;
  if (size <= 0 || size % 4 != 0 || epochs < 2) {
    std::fprintf(stderr, "usage: example_tensor_dataset [size, a multiple of 4] [epochs >= 2]\n");
    return 2;
  }
  const Set train_tensors = discs(48, size, 1), validation_tensors = discs(12, size, 2);
  auto train_set = std::make_shared<data::TensorDataset>(train_tensors.images, train_tensors.labels);
  auto validation_set = std::make_shared<data::TensorDataset>(validation_tensors.images, validation_tensors.labels);
  std::printf("%zu training samples of %dx%d, %d classes\n", train_set->size(), size, size,
              train_set->spec().num_classes);

  Model model = unet({size, size, 1}, 2, /*base_filters=*/8, /*depth=*/2, /*dropout=*/0.0);
  train::FitOptions options;
  options.epochs = epochs;
  options.batch_size = 8;
  options.seed = 1;
  options.shuffle = true;
  options.augment = data::AugmentOptions{.horizontal_flip = true, .vertical_flip = true, .rotate90 = true};
  options.optimizer = {{"name", "adam"}, {"learning_rate", 1e-2}};
  options.console = false;
  options.progress = train::ProgressMode::Off;
  const train::DataSource validation{validation_set, {}};
  const train::FitResult result = train::fit(model, {train_set, {}}, &validation, options);
  for (const train::EpochRecord& e : result.history)
    std::printf("epoch %lld  loss %.4f  val_loss %.4f\n", (long long)e.epoch, e.metrics.at("loss"),
                e.metrics.at("val_loss"));

  const Tensor classes = argmax(model.predict(validation_tensors.images));
  int64_t correct = 0, background = 0;
  for (int64_t i = 0; i < classes.numel(); ++i) {
    correct += classes.flat(i) == validation_tensors.labels.flat(i);
    background += validation_tensors.labels.flat(i) == 0;
  }
  const double accuracy = double(correct) / double(classes.numel());
  const double baseline = double(background) / double(classes.numel());
  const bool fell = result.history.back().metrics.at("val_loss") < result.history.front().metrics.at("val_loss");
  std::printf("validation loss %s; pixel accuracy %.4f against %.4f for the background everywhere\n",
              fell ? "fell" : "did NOT fall", accuracy, baseline);
  return fell && accuracy > baseline ? 0 : 1;
}
