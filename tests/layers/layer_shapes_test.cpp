// Output shapes of each layer against Keras's rules worked by hand (see shared/reference/KERAS_SEMANTICS.md).
#include <doctest/doctest.h>

#include "layers/layers.h"

using namespace tg;

TEST_CASE("Conv2D output shapes: valid, same, strides, dilation, rectangular kernels") {
  auto x = Input({10, 9, 3});
  CHECK(Conv2D(4, 3)(x).shape() == Shape{8, 7, 4});                               // 10-3+1, 9-3+1
  CHECK(Conv2D(4, 3).strides(2)(x).shape() == Shape{4, 4, 4});                    // ceil(8/2), ceil(7/2)
  CHECK(Conv2D(4, 3).strides(2).padding("same")(x).shape() == Shape{5, 5, 4});    // ceil(10/2), ceil(9/2)
  CHECK(Conv2D(4, 3).dilation_rate(2)(x).shape() == Shape{6, 5, 4});              // k_eff 5: 10-5+1, 9-5+1
  CHECK(Conv2D(4, 3).dilation_rate(2).padding("SAME")(x).shape() == Shape{10, 9, 4});
  CHECK(Conv2D(4, {1, 5})(x).shape() == Shape{10, 5, 4});
  CHECK(Conv2D(4, {3, 1}).strides({3, 1})(x).shape() == Shape{3, 9, 4});          // ceil(8/3)
}

TEST_CASE("Conv2DTranspose output shapes follow deconv_output_length") {
  auto x = Input({4, 5, 6});
  CHECK(Conv2DTranspose(2, 3).strides(2)(x).shape() == Shape{9, 11, 2});                  // in*s + max(k-s, 0)
  CHECK(Conv2DTranspose(2, 3).strides(2).padding("same")(x).shape() == Shape{8, 10, 2});  // in*s
  CHECK(Conv2DTranspose(2, 2).strides(2)(x).shape() == Shape{8, 10, 2});
  CHECK(Conv2DTranspose(2, 3)(x).shape() == Shape{6, 7, 2});                              // in + k - 1
  // output_padding 1, same: pad = floor(3/2) = 1; (in-1)*2 + 3 - 2 + 1
  CHECK(Conv2DTranspose(2, 3).strides(2).padding("same").output_padding({1, 1})(x).shape() == Shape{8, 10, 2});
  CHECK(Conv2DTranspose(2, 3).strides(2).output_padding({0, 1})(x).shape() == Shape{9, 12, 2});  // (in-1)*2+3+p
}

TEST_CASE("pooling, upsampling, joins and pass-through layers") {
  auto x = Input({7, 6, 3});
  CHECK(MaxPooling2D()(x).shape() == Shape{3, 3, 3});                               // floor((7-2)/2)+1
  CHECK(MaxPooling2D(2).padding("same")(x).shape() == Shape{4, 3, 3});              // ceil(7/2)
  CHECK(AveragePooling2D(3).strides(1).padding("same")(x).shape() == Shape{7, 6, 3});
  CHECK(AveragePooling2D({3, 2}).strides({2, 1})(x).shape() == Shape{3, 5, 3});     // (7-3)/2+1, 6-2+1
  CHECK(UpSampling2D({2, 3})(x).shape() == Shape{14, 18, 3});
  CHECK(UpSampling2D(2).interpolation("bilinear")(x).shape() == Shape{14, 12, 3});
  auto y = Conv2D(5, 1)(x);
  CHECK(concatenate({x, y}).shape() == Shape{7, 6, 8});
  CHECK(concatenate({x, x}, 1).shape() == Shape{14, 6, 3});  // axis 1 = height once the batch axis counts
  CHECK(concatenate({x, y, x}, 3).shape() == Shape{7, 6, 11});
  CHECK(add({x, x, x}).shape() == Shape{7, 6, 3});
  CHECK(BatchNormalization()(x).shape() == x.shape());
  CHECK(BatchNormalization().axis(3)(x).shape() == x.shape());
  CHECK(Dropout(0.3)(x).shape() == x.shape());
  CHECK(Activation("softmax")(x).shape() == x.shape());
}

TEST_CASE("weights: shapes, trainability and Keras's order") {
  reset_layer_names();  // names as in a fresh session, whatever ran before
  auto x = Input({6, 6, 3});
  auto y = BatchNormalization()(Conv2DTranspose(4, 2).strides(2)(Conv2D(5, 3).use_bias(false)(x)));
  Model m(x, y);
  const auto w = m.weights();
  REQUIRE(w.size() == 7);
  CHECK(w[0].name == "conv2d/kernel");
  CHECK(w[0].variable.shape() == Shape{3, 3, 3, 5});
  CHECK(w[1].name == "conv2d_transpose/kernel");
  CHECK(w[1].variable.shape() == Shape{2, 2, 4, 5});
  CHECK(w[2].name == "conv2d_transpose/bias");
  CHECK(w[3].name == "batch_normalization/gamma");
  CHECK(w[4].name == "batch_normalization/beta");
  CHECK(w[5].name == "batch_normalization/moving_mean");
  CHECK(w[6].name == "batch_normalization/moving_variance");
  for (int i = 0; i < 5; ++i) CHECK(w[i].trainable);
  CHECK_FALSE(w[5].trainable);
  CHECK_FALSE(w[6].trainable);
  CHECK(w[0].variable.requires_grad());
  CHECK_FALSE(w[5].variable.requires_grad());
  CHECK(m.count_params() == 135 + (16 * 5 + 4) + 16);
}
