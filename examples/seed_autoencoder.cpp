// The seed build_model (shared/reference/seed_models.py) written line for line with tapegrad's functional API.
// As written it cannot be built: merge1 joins conv4 (1/2 resolution) with up1 (1/4); tapegrad says so at the
// concatenate call, as Keras does. Taking up1 from conv6 makes every skip line up. The corrected model is what the
// seed made it for, image-to-image regression with a linear 3-channel output, so it is then trained with MSE to
// denoise synthetic RGB images (input: image + Gaussian noise, target: the clean image) in a plain loop:
// forward, loss, backward, optimizer step. The exit status says whether the loss fell.
//
//   example_seed_autoencoder [size=64] [steps=80] [batch=4]
#include <cstdio>
#include <cstdlib>
#include <numeric>

#include "data/synthetic.h"
#include "layers/layers.h"
#include "optim/adam.h"

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

// Images [count, size, size, 3] in [0, 1] from the built-in synthetic shapes.
Tensor synthetic_images(int64_t count, int64_t size, uint64_t seed) {
  data::SyntheticOptions o;
  o.count = static_cast<size_t>(count);
  o.height = o.width = static_cast<int>(size);
  o.channels = 3;
  o.seed = seed;
  const data::SyntheticDataset shapes(o);
  Tensor images({count, size, size, 3});
  const int64_t per_image = size * size * 3;
  for (int64_t i = 0; i < count; ++i) {
    const Tensor image = shapes.get(static_cast<size_t>(i)).image;
    std::copy_n(image.data<float>(), per_image, images.data<float>() + i * per_image);
  }
  return images;
}

// Rows [first, first + n) of a [N, ...] tensor, wrapping around.
Tensor rows(const Tensor& all, int64_t first, int64_t n) {
  Shape shape = all.shape();
  const int64_t count = shape[0], per_row = all.numel() / count;
  shape[0] = n;
  Tensor out(shape);
  for (int64_t i = 0; i < n; ++i)
    std::copy_n(all.data<float>() + ((first + i) % count) * per_row, per_row, out.data<float>() + i * per_row);
  return out;
}

Tensor add_noise(const Tensor& clean, double stddev, Rng rng) {
  Tensor noisy = clean.clone();
  for (int64_t i = 0; i < noisy.numel(); ++i)
    noisy.data<float>()[i] += static_cast<float>(stddev * rng.normal());
  return noisy;
}

int main(int argc, char** argv) {
  const int64_t size = argc > 1 ? std::atoll(argv[1]) : 64;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 80;
  const int64_t batch = argc > 3 ? std::atoll(argv[3]) : 4;
  if (size <= 0 || size % 8 != 0 || steps < 10 || batch <= 0) {
    std::fprintf(stderr, "usage: example_seed_autoencoder [size, a multiple of 8] [steps >= 10] [batch > 0]\n");
    return 2;
  }

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
  model.print_summary();
  const Model zoo = seed_autoencoder({size, size, 3}, true);
  if (zoo.config().at("layers") != model.config().at("layers")) {
    std::printf("DIFFERS from tg::seed_autoencoder({%lld, %lld, 3}, true)\n", (long long)size, (long long)size);
    return 1;
  }
  std::printf("same architecture as tg::seed_autoencoder({%lld, %lld, 3}, true)\n\n", (long long)size,
              (long long)size);

  // Denoising: noise of standard deviation 0.1, so returning the noisy input unchanged scores an MSE of 0.01.
  const double noise = 0.1;
  const Tensor train_images = synthetic_images(64, size, 1), test_images = synthetic_images(8, size, 2);
  Adam optimizer(model.parameters());  // Keras's defaults: learning rate 1e-3

  std::printf("denoising %lldx%lld RGB shapes, noise sd %.2f, batch %lld, Adam 1e-3, MSE loss\n", (long long)size,
              (long long)size, noise, (long long)batch);
  model.train();
  std::vector<double> losses;
  for (int step = 0; step < steps; ++step) {
    const Tensor clean = rows(train_images, step * batch, batch);
    const Tensor noisy = add_noise(clean, noise, Rng::derive(1, 0, static_cast<uint64_t>(step)));
    optimizer.zero_grad();
    Variable loss = mse(model(Variable(noisy)), clean);
    loss.backward();
    optimizer.step();
    losses.push_back(loss.item());
    if (step % 10 == 0 || step == steps - 1) std::printf("step %3d  mse %.5f\n", step, losses.back());
  }

  // Held-out images, BatchNormalization on its moving statistics.
  model.eval();
  {
    NoGrad no_grad;
    const Tensor noisy = add_noise(test_images, noise, Rng::derive(2, 0, 0));
    std::printf("held-out mse in inference mode %.5f (the noisy input itself: %.5f)\n",
                mse(model(Variable(noisy)), test_images).item(), mse(Variable(noisy), test_images).item());
  }

  const int window = 5;
  const double first = std::accumulate(losses.begin(), losses.begin() + window, 0.0) / window;
  const double last = std::accumulate(losses.end() - window, losses.end(), 0.0) / window;
  std::printf("training mse, mean of the first and last %d steps: %.5f -> %.5f: %s\n", window, first, last,
              last < first ? "fell" : "did NOT fall");
  return last < first ? 0 : 1;
}
