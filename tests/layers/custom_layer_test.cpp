// A user's own Layer subclass: registered with register_layer<T>, saved with a model and rebuilt by load_model.
#include <doctest/doctest.h>

#include <filesystem>

#include "tests/layers/layers_test_util.h"
#include "tests/temp_dir.h"

using namespace tg;
using namespace tg::testing;

namespace {

// y = x * scale + offset, with a trainable per-channel scale and a constant offset from the layer's arguments.
class ChannelScale final : public LayerBuilder<ChannelScale> {
 public:
  explicit ChannelScale(double offset = 0.0) : offset_(offset) {}
  std::string class_name() const override { return "ChannelScale"; }
  std::string base_name() const override { return "channel_scale"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override {
    if (inputs.size() != 1) throw ShapeError("ChannelScale takes one input");
    return inputs[0];
  }
  void build(const std::vector<Shape>& inputs) override { add_weight("scale", {inputs[0].back()}, true, "ones"); }
  Variable call(const std::vector<Variable>& inputs, CallContext&) const override {
    return inputs[0] * weight(0) + offset_;
  }
  nlohmann::json config() const override { return {{"offset", offset_}}; }
  static std::shared_ptr<Layer> from_config(const nlohmann::json& c) {
    return std::make_shared<ChannelScale>(c.at("offset").get<double>());
  }

 private:
  double offset_;
};

// A layer class nobody registers.
class Unregistered final : public LayerBuilder<Unregistered> {
 public:
  std::string class_name() const override { return "UnregisteredScale"; }
  std::string base_name() const override { return "unregistered_scale"; }
  Shape output_shape(const std::vector<Shape>& inputs) const override { return inputs.at(0); }
  Variable call(const std::vector<Variable>& inputs, CallContext&) const override { return inputs[0]; }
  nlohmann::json config() const override { return nlohmann::json::object(); }
};

const bool registered = register_layer<ChannelScale>("ChannelScale");

Model model_with_scale() {
  auto x = Input({4, 4, 2});
  auto y = Conv2D(3, 3).padding("same")(x);
  y = ChannelScale(0.25)(y);
  return Model(x, Conv2D(2, 1).activation("softmax")(y), /*seed=*/3);
}

}  // namespace

TEST_CASE("register_layer: a user-defined layer is saved and rebuilt by load_model, weights and arguments included") {
  REQUIRE(registered);
  TempDir tmp;
  Model a = model_with_scale();
  // Non-trivial scales, so that loading them is part of the check.
  Tensor& scale = a.layer("channel_scale").weights().at(0).variable.value();
  scale.copy_from(Tensor::from({0.5, -1.5, 2.0}, {3}));
  a.save_weights(tmp / "custom.safetensors");

  Model b = load_model(tmp / "custom.safetensors");
  CHECK(b.layer("channel_scale").class_name() == "ChannelScale");
  CHECK(b.layer("channel_scale").config() == nlohmann::json{{"offset", 0.25}});
  CHECK(b.layer("channel_scale").weights().at(0).variable.value().to_vector() == std::vector<double>{0.5, -1.5, 2.0});
  const Tensor x = random_tensor({2, 4, 4, 2}, 5, -1, 1, DType::F32);
  CHECK(a.predict(x).to_vector() == b.predict(x).to_vector());
}

TEST_CASE("register_layer: an unknown class names itself and the way to register it") {
  TempDir tmp;
  auto x = Input({4, 4, 1});
  Model m(x, Unregistered()(Conv2D(1, 1)(x)));
  m.save_weights(tmp / "unknown.safetensors");
  try {
    load_model(tmp / "unknown.safetensors");
    FAIL("load_model accepted an unregistered layer class");
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    CHECK(msg.find("unknown layer class 'UnregisteredScale'") != std::string::npos);
    CHECK(msg.find("tg::register_layer<T>(\"UnregisteredScale\")") != std::string::npos);
    CHECK(msg.find("ChannelScale") != std::string::npos);  // registered classes are listed among the known ones
  }
}

TEST_CASE("register_layer: built-in names cannot be taken, and a factory must make the class it is registered as") {
  CHECK_THROWS_WITH_AS(register_layer<ChannelScale>("Conv2D"), doctest::Contains("built-in layer class"),
                       std::invalid_argument);
  register_layer("MislabelledScale", [](const nlohmann::json&) -> std::shared_ptr<Layer> {
    return std::make_shared<ChannelScale>(0.0);
  });
  CHECK_THROWS_WITH_AS(layer_from_config("MislabelledScale", nlohmann::json::object()),
                       doctest::Contains("whose class_name() is 'ChannelScale'"), std::invalid_argument);
}
