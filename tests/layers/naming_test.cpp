// Layer names are generated the Keras way and restart with every model.
#include <doctest/doctest.h>

#include "layers/layers.h"

using namespace tg;

namespace {
std::vector<std::string> names(const Model& m) {
  std::vector<std::string> out;
  for (const auto& l : m.layers()) out.push_back(l->name());
  return out;
}
}  // namespace

TEST_CASE("names: conv2d, conv2d_1, ... per class, input_1, given names kept") {
  reset_layer_names();  // names as in a fresh session, whatever ran before
  auto x = Input({8, 8, 1});
  auto a = Conv2D(2, 3).padding("same")(x);
  auto b = Conv2D(2, 3).padding("same").name("middle")(a);
  auto c = BatchNormalization()(Conv2D(2, 3).padding("same")(b));
  auto d = concatenate({a, c});
  auto e = Activation("relu")(MaxPooling2D(2)(d));
  Model m(x, e);
  CHECK(names(m) == std::vector<std::string>{"input_1", "conv2d", "middle", "conv2d_1", "batch_normalization",
                                             "concatenate", "max_pooling2d", "activation"});
  CHECK(m.weights()[0].name == "conv2d/kernel");
  CHECK(m.weights()[1].name == "conv2d/bias");
  CHECK(m.weights()[2].name == "middle/kernel");
  CHECK(m.non_trainable_weights()[0].name == "batch_normalization/moving_mean");
  CHECK(m.non_trainable_weights()[1].name == "batch_normalization/moving_variance");
}

TEST_CASE("names restart with each model, so the same architecture always gets the same names") {
  reset_layer_names();  // names as in a fresh session, whatever ran before
  auto build = [] {
    auto x = Input({4, 4, 1});
    return Model(x, Conv2D(1, 1)(Conv2D(1, 1)(x)));
  };
  Model first = build();
  Model second = build();
  CHECK(names(first) == names(second));
  CHECK(names(second) == std::vector<std::string>{"input_1", "conv2d", "conv2d_1"});
  // The zoo's builders do not disturb a graph under construction.
  auto x = Input({4, 4, 1});
  auto y = Conv2D(1, 1)(x);
  Model u = unet({16, 16, 1}, 2, 2, 2);
  auto z = Conv2D(1, 1)(y);
  CHECK(z.name() == "conv2d_1");
}

TEST_CASE("names: duplicates and bad names are refused") {
  reset_layer_names();  // names as in a fresh session, whatever ran before
  auto x = Input({4, 4, 1});
  auto a = Conv2D(1, 1).name("same_name")(x);
  CHECK_THROWS_WITH_AS(Conv2D(1, 1).name("same_name")(a), doctest::Contains("'same_name' is already used"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Conv2D(1, 1).name("a/b"), doctest::Contains("free of '/'"), std::invalid_argument);
  // Siblings that do not depend on each other are caught when the model is built.
  auto b = Conv2D(1, 1).name("twin")(x);
  auto c = Conv2D(1, 1).name("twin")(x);
  CHECK_THROWS_WITH_AS(Model(x, add({b, c})), doctest::Contains("two layers are named 'twin'"), std::invalid_argument);
}

TEST_CASE("a layer object describes a layer: calling it twice makes two layers") {
  auto x = Input({4, 4, 1});
  Conv2D conv(3, 1);
  auto a = conv(x);
  auto b = conv(a);
  Model m(x, b);
  CHECK(m.count_params() == (1 * 3 + 3) + (3 * 3 + 3));
  CHECK(a.name() != b.name());
}
