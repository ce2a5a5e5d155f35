// The seed U-Net (shared/reference/seed_models.py, unet()) written line for line with tapegrad's functional API,
// checked against the zoo's tg::unet, then timed: a forward pass at inference, per layer and in total.
//
//   example_seed_unet [size=256] [repeats=3] [batch=1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "layers/layers.h"

using namespace tg;

Model build_unet(Shape input_shape = {256, 256, 1}, int num_classes = 2) {
  auto inputs = Input(input_shape);
  // Contracting path
  auto conv1 = Conv2D(64, 3).activation("relu").padding("same").kernel_initializer("he_normal")(inputs);
  conv1 = Conv2D(64, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv1);
  auto pool1 = MaxPooling2D({2, 2})(conv1);
  auto conv2 = Conv2D(128, 3).activation("relu").padding("same").kernel_initializer("he_normal")(pool1);
  conv2 = Conv2D(128, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv2);
  auto pool2 = MaxPooling2D({2, 2})(conv2);
  auto conv3 = Conv2D(256, 3).activation("relu").padding("same").kernel_initializer("he_normal")(pool2);
  conv3 = Conv2D(256, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv3);
  auto pool3 = MaxPooling2D({2, 2})(conv3);
  auto conv4 = Conv2D(512, 3).activation("relu").padding("same").kernel_initializer("he_normal")(pool3);
  conv4 = Conv2D(512, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv4);
  auto drop4 = Dropout(0.5)(conv4);
  auto pool4 = MaxPooling2D({2, 2})(drop4);
  // Bottom
  auto conv5 = Conv2D(1024, 3).activation("relu").padding("same").kernel_initializer("he_normal")(pool4);
  conv5 = Conv2D(1024, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv5);
  auto drop5 = Dropout(0.5)(conv5);
  // Expanding path
  auto up6 = Conv2D(512, 2).activation("relu").padding("same").kernel_initializer("he_normal")(UpSampling2D({2, 2})(drop5));
  auto merge6 = concatenate({drop4, up6}, 3);
  auto conv6 = Conv2D(512, 3).activation("relu").padding("same").kernel_initializer("he_normal")(merge6);
  conv6 = Conv2D(512, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv6);
  auto up7 = Conv2D(256, 2).activation("relu").padding("same").kernel_initializer("he_normal")(UpSampling2D({2, 2})(conv6));
  auto merge7 = concatenate({conv3, up7}, 3);
  auto conv7 = Conv2D(256, 3).activation("relu").padding("same").kernel_initializer("he_normal")(merge7);
  conv7 = Conv2D(256, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv7);
  auto up8 = Conv2D(128, 2).activation("relu").padding("same").kernel_initializer("he_normal")(UpSampling2D({2, 2})(conv7));
  auto merge8 = concatenate({conv2, up8}, 3);
  auto conv8 = Conv2D(128, 3).activation("relu").padding("same").kernel_initializer("he_normal")(merge8);
  conv8 = Conv2D(128, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv8);
  auto up9 = Conv2D(64, 2).activation("relu").padding("same").kernel_initializer("he_normal")(UpSampling2D({2, 2})(conv8));
  auto merge9 = concatenate({conv1, up9}, 3);
  auto conv9 = Conv2D(64, 3).activation("relu").padding("same").kernel_initializer("he_normal")(merge9);
  conv9 = Conv2D(64, 3).activation("relu").padding("same").kernel_initializer("he_normal")(conv9);
  // Output
  auto outputs = Conv2D(num_classes, 1).activation("softmax")(conv9);
  return Model(inputs, outputs);
}

int main(int argc, char** argv) {
  const int64_t size = argc > 1 ? std::atoll(argv[1]) : 256;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  const int64_t batch = argc > 3 ? std::atoll(argv[3]) : 1;

  Model model = build_unet({size, size, 1}, 2);
  std::printf("%s", model.summary().c_str());
  const Model zoo = unet({size, size, 1}, 2);
  if (zoo.config().at("layers") != model.config().at("layers") || zoo.count_params() != model.count_params()) {
    std::printf("the zoo's unet differs from the seed written out here\n");
    return 1;
  }
  std::printf("same architecture as tg::unet({%lld, %lld, 1}, 2): %lld parameters\n", (long long)size,
              (long long)size, (long long)model.count_params());

  Tensor x({batch, size, size, 1});
  Rng(1).fill_uniform(x, 0.0, 1.0);
  NoGrad no_grad;
  std::map<std::string, double> per_layer;
  model.set_layer_hook([&](const Layer& layer, const std::vector<Variable>&, const Variable&, double seconds) {
    per_layer[layer.name()] += seconds;
  });
  model(Variable(x));  // warm-up: first-touch allocations, thread pool start
  per_layer.clear();
  double best = 1e300, total = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    model(Variable(x));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::min(best, s), total += s;
  }
  std::printf("forward, batch %lld at %lldx%lld, inference: best %.3f s, mean %.3f s over %d runs\n",
              (long long)batch, (long long)size, (long long)size, best, total / repeats, repeats);
  std::vector<std::pair<double, std::string>> slowest;
  for (const auto& [name, seconds] : per_layer) slowest.emplace_back(seconds / repeats, name);
  std::sort(slowest.rbegin(), slowest.rend());
  std::printf("slowest layers (mean per run):\n");
  for (size_t i = 0; i < std::min<size_t>(8, slowest.size()); ++i)
    std::printf("  %-16s %8.1f ms\n", slowest[i].second.c_str(), 1e3 * slowest[i].first);
  return 0;
}
