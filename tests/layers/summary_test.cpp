// Model::summary(): Keras's rows and totals, and the padding 'same' layers actually apply.
#include <doctest/doctest.h>

#include <sstream>

#include "autograd/allocator.h"
#include "layers/layers.h"
#include "layers/zoo.h"

using namespace tg;

namespace {
// The summary's lines split into cells at runs of two or more spaces.
std::vector<std::vector<std::string>> rows(const std::string& summary) {
  std::vector<std::vector<std::string>> out;
  std::istringstream in(summary);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && line[i] == ' ') ++i;
      size_t j = i;
      while (j < line.size() && !(line[j] == ' ' && j + 1 < line.size() && line[j + 1] == ' ')) ++j;
      if (j > i) cells.push_back(line.substr(i, j - i));
      i = j;
    }
    if (!cells.empty()) out.push_back(cells);
  }
  return out;
}

bool has_row(const std::string& summary, const std::vector<std::string>& want) {
  for (const auto& r : rows(summary))
    if (r == want) return true;
  return false;
}
}  // namespace

TEST_CASE("summary of the seed U-Net: Keras's rows and totals" * doctest::test_suite("slow")) {
  const std::string s = unet({256, 256, 1}, 2).summary();
  CHECK(s.rfind("Model: \"unet\"\n", 0) == 0);
  CHECK(has_row(s, {"Layer (type)", "Output Shape", "Param #", "Padding (t, b, l, r)", "Connected to"}));
  CHECK(has_row(s, {"input_1 (InputLayer)", "[(None, 256, 256, 1)]", "0", "[]"}));
  CHECK(has_row(s, {"conv2d (Conv2D)", "(None, 256, 256, 64)", "640", "(1, 1, 1, 1)", "['input_1[0][0]']"}));
  CHECK(has_row(s, {"max_pooling2d (MaxPooling2D)", "(None, 128, 128, 64)", "0", "valid", "['conv2d_1[0][0]']"}));
  CHECK(has_row(s, {"dropout_1 (Dropout)", "(None, 16, 16, 1024)", "0", "['conv2d_9[0][0]']"}));
  // A 2x2 'same' convolution pads nothing before and one row/column after (TensorFlow's rule).
  CHECK(has_row(s, {"conv2d_10 (Conv2D)", "(None, 32, 32, 512)", "2097664", "(0, 1, 0, 1)",
                    "['up_sampling2d[0][0]']"}));
  CHECK(has_row(s, {"concatenate (Concatenate)", "(None, 32, 32, 1024)", "0", "['dropout[0][0]',"}));
  CHECK(has_row(s, {"'conv2d_10[0][0]']"}));
  CHECK(has_row(s, {"conv2d_22 (Conv2D)", "(None, 256, 256, 2)", "130", "valid", "['conv2d_21[0][0]']"}));
  // Keras prints the weight memory with powers of 1024: 31,030,658 * 4 bytes = 118.37 MB.
  CHECK(s.find("\nTotal params: 31,030,658 (118.37 MB)\n"
               "Trainable params: 31,030,658 (118.37 MB)\n"
               "Non-trainable params: 0 (0.00 Byte)\n") != std::string::npos);
}

TEST_CASE("summary of the corrected seed autoencoder: non-trainable statistics and transposed-conv crops") {
  const std::string s = seed_autoencoder({128, 128, 3}, true).summary();
  CHECK(has_row(s, {"batch_normalization (BatchNormalization)", "(None, 128, 128, 32)", "128", "['conv2d[0][0]']"}));
  CHECK(has_row(s, {"conv2d_transpose (Conv2DTranspose)", "(None, 64, 64, 64)", "32832", "crop (0, 0, 0, 0)",
                    "['batch_normalization_5[0][0]']"}));
  // 1,280 * 4 bytes = 5.00 KB; 469,923 * 4 = 1.79 MB.
  CHECK(s.find("Total params: 469,923 (1.79 MB)\nTrainable params: 468,643 (1.79 MB)\n"
               "Non-trainable params: 1,280 (5.00 KB)\n") != std::string::npos);
}

TEST_CASE("summary shows the padding 'same' applies for strides and odd sizes") {
  reset_layer_names();  // names as in a fresh session, whatever ran before
  // k=3, s=2: in=8 -> out 4, total (4-1)*2+3-8 = 1: 0 before, 1 after; in=7 -> out 4, total 2: 1 and 1.
  // A 3x3 transposed conv with stride 2 from 4 to 8 crops like the conv from 8 to 4: 0 top/left, 1 bottom/right.
  auto x = Input({8, 7, 1});
  auto y = Conv2D(2, 3).strides(2).padding("same")(x);
  auto z = Conv2DTranspose(1, 3).strides(2).padding("same")(y);
  auto p = MaxPooling2D(3).strides(2).padding("same")(z);
  const std::string s = Model(x, p).summary();
  CHECK(has_row(s, {"conv2d (Conv2D)", "(None, 4, 4, 2)", "20", "(0, 1, 1, 1)", "['input_1[0][0]']"}));
  CHECK(has_row(s, {"conv2d_transpose (Conv2DTranspose)", "(None, 8, 8, 1)", "19", "crop (0, 1, 0, 1)",
                    "['conv2d[0][0]']"}));
  CHECK(has_row(s, {"max_pooling2d (MaxPooling2D)", "(None, 4, 4, 1)", "0", "(0, 1, 0, 1)",
                    "['conv2d_transpose[0][0]']"}));
}

TEST_CASE("summary without padded layers has no padding column") {
  reset_layer_names();  // names as in a fresh session, whatever ran before
  auto x = Input({4});
  const std::string s = Model(x, Activation("tanh")(x)).summary();
  CHECK(has_row(s, {"Layer (type)", "Output Shape", "Param #", "Connected to"}));
  CHECK(has_row(s, {"activation (Activation)", "(None, 4)", "0", "['input_1[0][0]']"}));
}

TEST_CASE("the summary of a graph needs no weights: equal to the built model's, and possible for a model too large to build") {
  const ModelGraph small = unet_graph({32, 32, 3}, 4, 8, 2, 0.0, true);
  const uint64_t before = thread_allocated_bytes();
  const std::string planned = summary(small);
  CHECK(thread_allocated_bytes() == before);
  CHECK(planned == Model(small).summary());

  const Model built(unet_graph({32, 32, 3}, 4, 8, 2, 0.0, true));
  const std::vector<WeightSpec> specs = planned_weights(small);
  REQUIRE(specs.size() == built.weights().size());
  for (size_t i = 0; i < specs.size(); ++i) {
    CHECK(specs[i].name == built.weights()[i].name);
    CHECK(specs[i].shape == built.weights()[i].variable.shape());
    CHECK(specs[i].trainable == built.weights()[i].trainable);
  }

  // The seed U-Net at 4096 base filters: 127 billion parameters (473 GB), counted by hand per layer: two 3x3 convs
  // per level (9*in*out + out each), a 2x2 up-conv (4*in*out + out) per decoder level, the 1x1 output.
  auto block = [](int64_t in, int64_t out) { return 9 * in * out + out + 9 * out * out + out; };
  const int64_t f = 4096;
  int64_t expected = block(1, f) + block(f, 2 * f) + block(2 * f, 4 * f) + block(4 * f, 8 * f) + block(8 * f, 16 * f);
  for (int64_t level = 3; level >= 0; --level) {
    const int64_t out = f << level;
    expected += 4 * (2 * out) * out + out + block(2 * out, out);
  }
  expected += f * 2 + 2;
  const std::string huge = summary(unet_graph({256, 256, 1}, 2, int(f)));
  std::string digits = std::to_string(expected);
  for (int i = int(digits.size()) - 3; i > 0; i -= 3) digits.insert(size_t(i), ",");
  CHECK(huge.find("Total params: " + digits + " (") != std::string::npos);
}
