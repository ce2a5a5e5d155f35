// Weights and models on disk: safetensors with the config in the header.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "autograd/allocator.h"
#include "autograd/io/safetensors.h"
#include "tests/layers/layers_test_util.h"
#include "tests/temp_dir.h"

using namespace tg;
using namespace tg::testing;
namespace fs = std::filesystem;

namespace {
std::vector<std::vector<double>> values(const Model& m) {
  std::vector<std::vector<double>> out;
  for (const Weight& w : m.weights()) out.push_back(w.variable.value().to_vector());
  return out;
}

Model two_convs(int second_filters = 3) {
  auto x = Input({4, 4, 1});
  return Model(x, Conv2D(second_filters, 1)(Conv2D(2, 3)(x)));
}
}  // namespace

TEST_CASE("save_weights -> load_weights is bit-exact, and the file is what Keras users expect") {
  const tg::testing::TempDir tmp;
  const fs::path path = tmp / "autoencoder.safetensors";
  Model a = seed_autoencoder({16, 16, 3}, true, /*seed=*/1, 4);
  // Make the moving statistics non-trivial so that they are part of the check.
  a.train();
  a(Variable(random_tensor({2, 16, 16, 3}, 9, -1, 1, DType::F32)));
  a.eval();
  a.save_weights(path);

  Model b = seed_autoencoder({16, 16, 3}, true, /*seed=*/2, 4);
  REQUIRE(values(a) != values(b));
  b.load_weights(path);
  CHECK(values(a) == values(b));
  const Variable x(random_tensor({1, 16, 16, 3}, 10, -1, 1, DType::F32));
  CHECK(a(x).value().to_vector() == b(x).value().to_vector());

  const SafetensorsFile file = load_safetensors(path);
  REQUIRE(file.tensors.size() == a.weights().size());
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    CHECK(file.tensors[i].name == a.weights()[i].name);
    CHECK(file.tensors[i].tensor.dtype() == DType::F32);
  }
  CHECK(file.at("conv2d/kernel").shape() == Shape{3, 3, 3, 4});              // HWIO
  CHECK(file.at("conv2d_transpose/kernel").shape() == Shape{2, 2, 8, 16});    // (kh, kw, out, in)
  CHECK(file.find("batch_normalization_3/moving_variance") != nullptr);
  CHECK(nlohmann::json::parse(file.metadata.at("tapegrad.model")) == a.config());
}

TEST_CASE("load_model rebuilds the model from the file alone") {
  const tg::testing::TempDir tmp;
  const fs::path path = tmp / "unet.safetensors";
  Model a = unet({16, 16, 2}, 3, 2, 2, 0.25, true, 7);
  a.save_weights(path);
  Model b = load_model(path);
  CHECK(b.name() == "unet");
  CHECK(b.config() == a.config());
  CHECK(b.summary() == a.summary());
  CHECK(values(a) == values(b));
  const Variable x(random_tensor({2, 16, 16, 2}, 11, -1, 1, DType::F32));
  CHECK(a(x).value().to_vector() == b(x).value().to_vector());
}

TEST_CASE("load_model reads a training checkpoint, leaving its optimizer state aside") {
  const tg::testing::TempDir tmp;
  const fs::path path = tmp / "checkpoint.safetensors";
  Model a = two_convs();
  std::vector<NamedTensor> tensors;
  for (const Weight& w : a.weights()) {
    tensors.push_back({w.name, w.variable.value()});
    tensors.push_back({"optimizer/" + w.name + "/m", Tensor::full(w.variable.shape(), 9.0)});
  }
  save_safetensors(path, tensors, {{"tapegrad.model", a.config().dump()}});
  Model b = load_model(path);
  CHECK(values(a) == values(b));
  // Any other extra tensor still means another architecture.
  tensors.push_back({"conv2d_9/kernel", Tensor::zeros({1})});
  save_safetensors(path, tensors, {{"tapegrad.model", a.config().dump()}});
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains("holds tensor 'conv2d_9/kernel'"), std::runtime_error);
}

TEST_CASE("config round trip keeps every layer argument") {
  auto x = Input({9, 9, 2});
  auto y = Conv2D(3, {3, 2})
               .strides({2, 1})
               .padding("same")
               .activation("tanh")
               .use_bias(false)
               .kernel_initializer("he_uniform")
               .name("first")(x);
  y = BatchNormalization().momentum(0.9).epsilon(1e-5).center(false).unbiased_moving_variance(false)(y);
  y = AveragePooling2D({2, 3}).strides(1).padding("same")(y);
  y = UpSampling2D({2, 1}).interpolation("bilinear")(y);
  auto z = Conv2DTranspose(3, 3).strides(2).padding("same").output_padding({1, 0}).dilation_rate(1)(y);
  auto w = MaxPooling2D(2)(Activation("sigmoid")(z));
  auto out = concatenate({Dropout(0.1)(w), add({w, w})}, 3);
  Model m(x, out, 99, "custom");
  Model rebuilt = Model::from_config(m.config());
  CHECK(rebuilt.config() == m.config());
  CHECK(rebuilt.summary() == m.summary());
  CHECK(values(rebuilt) == values(m));  // same seed, same layer order: same initial weights
  CHECK(m.config().at("layers").at(1).at("config").at("kernel_initializer") == "he_uniform");
  CHECK_THROWS_WITH_AS(Model::from_config({{"format", "keras"}}), doctest::Contains("not a tapegrad model config"),
                       std::invalid_argument);
}

TEST_CASE("a file of another architecture fails naming the first tensor that does not fit") {
  const tg::testing::TempDir tmp;
  reset_layer_names();  // names as in a fresh session, whatever ran before
  const fs::path path = tmp / "two_convs.safetensors";
  const std::string file = path.string();
  two_convs().save_weights(path);

  Model wider = two_convs(5);
  const auto before = values(wider);
  CHECK_THROWS_WITH_AS(wider.load_weights(path),
                       (file + ": tensor 'conv2d_1/kernel' has shape [1, 1, 2, 3] but model 'model' needs [1, 1, 2, 5] "
                               "(it was saved from model 'model'); the file holds another architecture")
                           .c_str(),
                       std::runtime_error);
  CHECK(values(wider) == before);  // nothing loaded

  auto x = Input({4, 4, 1});
  Model deeper(x, Conv2D(1, 1)(Conv2D(3, 1)(Conv2D(2, 3)(x))));
  CHECK_THROWS_WITH_AS(deeper.load_weights(path),
                       (file + ": has no tensor 'conv2d_2/kernel' [1, 1, 3, 1], which model 'model' needs (it was "
                               "saved from model 'model'); the file holds another architecture")
                           .c_str(),
                       std::runtime_error);

  auto x1 = Input({4, 4, 1});
  Model shallower(x1, Conv2D(2, 3)(x1));
  CHECK_THROWS_WITH_AS(shallower.load_weights(path),
                       (file + ": holds tensor 'conv2d_1/kernel' [1, 1, 2, 3], which model 'model' does not have (it "
                               "was saved from model 'model'); the file holds another architecture")
                           .c_str(),
                       std::runtime_error);

  Model u = unet({16, 16, 1}, 2, 2, 1);
  CHECK_THROWS_WITH_AS(u.load_weights(path), doctest::Contains("tensor 'conv2d_1/kernel' has shape [1, 1, 2, 3] but "
                                                               "model 'unet' needs [3, 3, 2, 2]"),
                       std::runtime_error);
}

TEST_CASE("truncated, missing and foreign files give clear errors") {
  const tg::testing::TempDir tmp;
  const fs::path path = tmp / "truncated.safetensors";
  unet({16, 16, 1}, 2, 2, 1).save_weights(path);
  fs::resize_file(path, fs::file_size(path) - 100);
  Model m = unet({16, 16, 1}, 2, 2, 1);
  CHECK_THROWS_WITH_AS(m.load_weights(path), doctest::Contains((path.string() + ": truncated").c_str()), std::runtime_error);
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains((path.string() + ": truncated").c_str()), std::runtime_error);
  fs::resize_file(path, 5);
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains("not a safetensors file"), std::runtime_error);

  CHECK_THROWS_WITH_AS(load_model(tmp / "does_not_exist.safetensors"), doctest::Contains("cannot open"),
                       std::runtime_error);

  const fs::path bare = tmp / "bare.safetensors";
  save_safetensors(bare, {{"conv2d/kernel", Tensor({1, 1, 1, 1})}});
  CHECK_THROWS_WITH_AS(load_model(bare), doctest::Contains("has no model config"), std::runtime_error);
}

TEST_CASE("a float64 model loads a float32 file, and saves float64") {
  const tg::testing::TempDir tmp;
  const fs::path path = tmp / "f32.safetensors";
  Model a = unet({8, 8, 1}, 2, 2, 1, 0.5, false, 3);
  a.save_weights(path);
  Model b = unet({8, 8, 1}, 2, 2, 1, 0.5, false, 4);
  b.to(DType::F64);
  b.load_weights(path);
  CHECK(b.weights()[0].variable.dtype() == DType::F64);
  CHECK(values(a) == values(b));  // float32 values are exact in float64
  b.save_weights(path);
  CHECK(load_safetensors(path).tensors[0].tensor.dtype() == DType::F64);
}

TEST_CASE("load_model names the file whose model config cannot be built, and refuses NaN weights") {
  const tg::testing::TempDir tmp;
  const auto keras = tmp / "keras.safetensors";
  save_safetensors(keras, {}, {{"tapegrad.model", R"({"format": "keras"})"}});
  CHECK_THROWS_WITH_AS(load_model(keras), doctest::Contains((keras.string() + ": its model config").c_str()),
                       std::invalid_argument);

  auto x = Input({4, 4, 1});
  Model m(x, Conv2D(2, 3).padding("same")(x), 1, "tiny");
  const auto nan = tmp / "nan.safetensors";
  m.weights().front().variable.value().set_flat(0, std::nan(""));
  m.save_weights(nan);
  CHECK_THROWS_WITH_AS(load_model(nan), doctest::Contains("holds 1 NaN or infinite values"), std::runtime_error);
}

TEST_CASE("a file whose model config asks for huge layers is refused before the model is allocated") {
  // An 80-weight file whose config claims 5,000,000 filters: the weights that config would need (1.8 GB) are
  // compared with the file's tensors before any is allocated.
  const tg::testing::TempDir tmp;
  auto x = Input({4, 4, 1});
  Model m(x, Conv2D(4, 3).padding("same")(x), 1, "tiny");
  nlohmann::json config = m.config();
  config["layers"][1]["config"]["filters"] = 5'000'000;
  const auto path = tmp / "huge.safetensors";
  save_safetensors(path, m.weight_tensors(), {{"tapegrad.model", config.dump()}});
  const uint64_t before = thread_allocated_bytes();
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains("needs [3, 3, 1, 5000000]"), std::runtime_error);
  CHECK(thread_allocated_bytes() - before < (1u << 20));  // the file's own 160 bytes, not the config's 180 MB
}
