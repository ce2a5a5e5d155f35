// The seed build_model (shared/reference/seed_models.py) written line for line with tapegrad's functional API.
// As written it cannot be built: merge1 joins conv4 (1/2 resolution) with up1 (1/4); tapegrad says so at the
// concatenate call, as Keras does. Taking up1 from conv6 makes every skip line up.
//
//   example_seed_autoencoder [size=128]
#include <cstdio>
#include <cstdlib>

#include "layers/layers.h"

using namespace tg;

Model build_model(Shape input_shape, bool corrected) {
  auto inputs = Input(input_shape);
  // encoder
  auto conv1 = Conv2D(32, {3, 3}).activation("relu").padding("same")(inputs);
  conv1 = BatchNormalization()(conv1);
  auto conv2 = Conv2D(32, {3, 3}).activation("relu").padding("same")(conv1);
  conv2 = BatchNormalization()(conv2);
  auto pool1 = MaxPooling2D({2, 2})(conv2);
  auto conv3 = Conv2D(64, {3, 3}).activation("relu").padding("same")(pool1);
  conv3 = BatchNormalization()(conv3);
  auto conv4 = Conv2D(64, {3, 3}).activation("relu").padding("same")(conv3);
  conv4 = BatchNormalization()(conv4);
  auto pool2 = MaxPooling2D({2, 2})(conv4);
  auto conv5 = Conv2D(128, {3, 3}).activation("relu").padding("same")(pool2);
  conv5 = BatchNormalization()(conv5);
  auto conv6 = Conv2D(128, {3, 3}).activation("relu").padding("same")(conv5);
  conv6 = BatchNormalization()(conv6);
  auto pool3 = MaxPooling2D({2, 2})(conv6);
  // decoder
  auto up1 = Conv2DTranspose(64, {2, 2}).strides({2, 2}).padding("same")(corrected ? conv6 : pool3);
  auto merge1 = concatenate({conv4, up1});
  auto conv7 = Conv2D(64, {3, 3}).activation("relu").padding("same")(merge1);
  conv7 = BatchNormalization()(conv7);
  auto conv8 = Conv2D(64, {3, 3}).activation("relu").padding("same")(conv7);
  conv8 = BatchNormalization()(conv8);
  auto up2 = Conv2DTranspose(32, {2, 2}).strides({2, 2}).padding("same")(conv8);
  auto merge2 = concatenate({conv2, up2});
  auto conv9 = Conv2D(32, {3, 3}).activation("relu").padding("same")(merge2);
  conv9 = BatchNormalization()(conv9);
  auto conv10 = Conv2D(32, {3, 3}).activation("relu").padding("same")(conv9);
  conv10 = BatchNormalization()(conv10);
  auto outputs = Conv2D(3, {3, 3}).padding("same")(conv10);
  return Model(inputs, outputs);
}

int main(int argc, char** argv) {
  const int64_t size = argc > 1 ? std::atoll(argv[1]) : 128;
  std::printf("build_model as written:\n");
  try {
    build_model({size, size, 3}, false);
    std::printf("unexpectedly built\n");
    return 1;
  } catch (const ShapeError& e) {
    std::printf("%s\n\n", e.what());
  }
  reset_layer_names();  // the failed attempt used up names, as a Keras session would; start afresh
  std::printf("corrected (up1 taken from conv6):\n");
  Model model = build_model({size, size, 3}, true);
  std::printf("%s", model.summary().c_str());
  const Model zoo = seed_autoencoder({size, size, 3}, true);
  const bool same = zoo.config().at("layers") == model.config().at("layers");
  std::printf("%s tg::seed_autoencoder({%lld, %lld, 3}, true)\n", same ? "same architecture as" : "DIFFERS from",
              (long long)size, (long long)size);
  return same ? 0 : 1;
}
