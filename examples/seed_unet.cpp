// The seed U-Net (shared/reference/seed_models.py, unet()) written line for line with tapegrad's functional API,
// checked against the zoo's tg::unet, then trained with tg::train::fit on the built-in synthetic shapes, in memory:
// the validation metrics are printed after each epoch, and the exit status says whether the loss fell.
//
//   example_seed_unet [size=64] [filters=16] [epochs=3] [samples=160]
//
// filters = 64 is the seed's width (31 million parameters at 256x256); narrower copies train in seconds on a CPU.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "data/synthetic.h"
#include "data/split.h"
#include "layers/layers.h"
#include "train/fit.h"

using namespace tg;

// `filters` is the first level's width; the seed's Conv2D(64, ...), Conv2D(128, ...) ... Conv2D(1024, ...) are
// filters, filters * 2, ..., filters * 16.
Model build_unet(Shape input_shape = {256, 256, 1}, int num_classes = 2, int filters = 64) {
  auto inputs = Input(input_shape);
  // Contracting path
  auto conv1 = Conv2D(filters, 3).activation("relu").padding("same").kernel_initializer("he_normal")(inputs);
  conv1 = Conv2D(filters, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv1);
  auto pool1 = MaxPooling2D({2, 2})(conv1);
  auto conv2 = Conv2D(filters * 2, 3).activation("relu").padding("same").kernel_initializer("he_normal")(pool1);
  conv2 = Conv2D(filters * 2, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv2);
  auto pool2 = MaxPooling2D({2, 2})(conv2);
  auto conv3 = Conv2D(filters * 4, 3).activation("relu").padding("same").kernel_initializer("he_normal")(pool2);
  conv3 = Conv2D(filters * 4, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv3);
  auto pool3 = MaxPooling2D({2, 2})(conv3);
  auto conv4 = Conv2D(filters * 8, 3).activation("relu").padding("same").kernel_initializer("he_normal")(pool3);
  conv4 = Conv2D(filters * 8, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv4);
  auto drop4 = Dropout(0.5)(conv4);
  auto pool4 = MaxPooling2D({2, 2})(drop4);
  // Bottom
  auto conv5 = Conv2D(filters * 16, 3).activation("relu").padding("same").kernel_initializer("he_normal")(pool4);
  conv5 = Conv2D(filters * 16, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv5);
  auto drop5 = Dropout(0.5)(conv5);
  // Expanding path
  auto up6 = Conv2D(filters * 8, 2).activation("relu").padding("same").kernel_initializer("he_normal")(
      UpSampling2D({2, 2})(drop5));
  auto merge6 = concatenate({drop4, up6}, 3);
  auto conv6 = Conv2D(filters * 8, 3).activation("relu").padding("same").kernel_initializer("he_normal")(merge6);
  conv6 = Conv2D(filters * 8, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv6);
  auto up7 = Conv2D(filters * 4, 2).activation("relu").padding("same").kernel_initializer("he_normal")(
      UpSampling2D({2, 2})(conv6));
  auto merge7 = concatenate({conv3, up7}, 3);
  auto conv7 = Conv2D(filters * 4, 3).activation("relu").padding("same").kernel_initializer("he_normal")(merge7);
  conv7 = Conv2D(filters * 4, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv7);
  auto up8 = Conv2D(filters * 2, 2).activation("relu").padding("same").kernel_initializer("he_normal")(
      UpSampling2D({2, 2})(conv7));
  auto merge8 = concatenate({conv2, up8}, 3);
  auto conv8 = Conv2D(filters * 2, 3).activation("relu").padding("same").kernel_initializer("he_normal")(merge8);
  conv8 = Conv2D(filters * 2, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv8);
  auto up9 = Conv2D(filters, 2).activation("relu").padding("same").kernel_initializer("he_normal")(
      UpSampling2D({2, 2})(conv8));
  auto merge9 = concatenate({conv1, up9}, 3);
  auto conv9 = Conv2D(filters, 3).activation("relu").padding("same").kernel_initializer("he_normal")(merge9);
  conv9 = Conv2D(filters, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv9);
  // Output
  auto outputs = Conv2D(num_classes, 1).activation("softmax")(conv9);
  return Model(inputs, outputs);
}

int main(int argc, char** argv) {
  const int64_t size = argc > 1 ? std::atoll(argv[1]) : 64;
  const int filters = argc > 2 ? std::atoi(argv[2]) : 16;
  const int epochs = argc > 3 ? std::atoi(argv[3]) : 3;
  const size_t samples = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 160;
  if (size <= 0 || size % 16 != 0 || filters <= 0 || epochs <= 0 || samples < 10) {
    std::fprintf(stderr, "usage: example_seed_unet [size, a multiple of 16] [filters > 0] [epochs > 0] [samples >= 10]\n");
    return 2;
  }
  const int num_classes = 3;  // background and two kinds of shapes

  Model model = build_unet({size, size, 1}, num_classes, filters);
  model.print_summary();
  const Model zoo = unet({size, size, 1}, num_classes, filters);
  if (zoo.config().at("layers") != model.config().at("layers") || zoo.count_params() != model.count_params()) {
    std::printf("the zoo's unet differs from the seed written out here\n");
    return 1;
  }
  std::printf("same architecture as tg::unet({%lld, %lld, 1}, %d, %d)\n\n", (long long)size, (long long)size,
              num_classes, filters);

  // The synthetic shapes (ellipses, rectangles, triangles on a textured background), a fifth held out.
  data::SyntheticOptions synthetic;
  synthetic.count = samples;
  synthetic.height = synthetic.width = static_cast<int>(size);
  synthetic.num_classes = num_classes;
  synthetic.seed = 1;
  auto shapes = std::make_shared<data::SyntheticDataset>(synthetic);
  const data::Split split = data::split_by_fraction(shapes->size(), 0.2, synthetic.seed);
  const train::DataSource train_set{shapes, split.train}, validation_set{shapes, split.validation};

  train::FitOptions options;
  options.epochs = epochs;
  options.batch_size = 8;
  options.seed = 1;
  options.optimizer = {{"name", "adam"}, {"learning_rate", 2e-3}};
  options.console = false;  // no run folder and no log: this program prints what it wants below
  options.progress = train::ProgressMode::Off;
  options.on_epoch_end = [](const train::EpochEnd& e) {
    const auto& m = e.record.metrics;
    std::printf("epoch %lld  %.1f s  loss %.4f  val_loss %.4f  val_pixel_accuracy %.4f  val_mean_iou %.4f  "
                "val_dice_1 %.4f  val_dice_2 %.4f\n",
                (long long)e.record.epoch, e.record.seconds, m.at("loss"), m.at("val_loss"),
                m.at("val_pixel_accuracy"), m.at("val_mean_iou"), m.at("val_dice_1"), m.at("val_dice_2"));
  };
  std::printf("training on %zu synthetic samples of %lldx%lld, validating on %zu\n", split.train.size(),
              (long long)size, (long long)size, split.validation.size());
  const train::FitResult result = train::fit(model, train_set, &validation_set, options);

  const double first = result.history.front().metrics.at("loss"), last = result.history.back().metrics.at("loss");
  std::printf("training loss %.4f -> %.4f: %s\n", first, last, last < first ? "fell" : "did NOT fall");
  return last < first ? 0 : 1;
}
