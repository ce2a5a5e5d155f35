// Whole-image inference: with a model that looks at one pixel at a time (a 1x1 convolution), tiling cannot change
// anything, so the stitched prediction must equal one forward pass over the whole image.
#include <doctest/doctest.h>

#include <cmath>

#include "layers/layers.h"
#include "train/predict.h"

using namespace tg;

namespace {

Model pointwise(Shape input) {
  auto x = Input(std::move(input));
  return Model(x, Conv2D(3, 1).activation("softmax")(x));
}

// The same 1x1 weights for every input size.
void set_weights(Model& m) {
  std::vector<Weight> w = m.weights();
  REQUIRE(w.size() == 2);
  w[0].variable.value().copy_from(Tensor::from({1.5, -2.0, 0.25, -0.5, 3.0, 1.0}, {1, 1, 2, 3}));
  w[1].variable.value().copy_from(Tensor::from({0.1, -0.2, 0.3}, {3}));
}

Tensor random_image(int h, int w, uint64_t seed) {
  Tensor t({h, w, 2});
  Rng(seed).fill_uniform(t, 0, 1);
  return t;
}

}  // namespace

TEST_CASE("inference: tiled prediction with a 1x1-convolution model equals one forward pass over the whole image") {
  Model model = pointwise({16, 16, 2});
  set_weights(model);
  struct Case {
    int h, w, overlap;
  };
  // Larger in both sides (uneven last tiles), overlaps 0, default (4) and odd, one side smaller than the input (edge
  // padding), exactly the input.
  for (const Case c : {Case{45, 70, -1}, Case{45, 70, 0}, Case{37, 53, 5}, Case{10, 40, -1}, Case{16, 16, -1}}) {
    CAPTURE(c.h);
    CAPTURE(c.w);
    CAPTURE(c.overlap);
    const Tensor image = random_image(c.h, c.w, 100 + c.h);
    train::PredictImageOptions o;
    o.fit = train::ImageFit::Tile;
    o.overlap = c.overlap;
    const Tensor tiled = train::predict_image(model, image, o);

    Model whole = pointwise({c.h, c.w, 2});
    set_weights(whole);
    NoGrad no_grad;
    const Tensor full = whole(Variable(image.reshape({1, c.h, c.w, 2}))).value().reshape({c.h, c.w, 3});
    REQUIRE(tiled.shape() == full.shape());
    double worst = 0;
    for (int64_t i = 0; i < full.numel(); ++i) worst = std::max(worst, std::fabs(tiled.flat(i) - full.flat(i)));
    CHECK(worst < 1e-6);  // blending identical values rounds at most in the last bits of float32
    CHECK(argmax(tiled).to_vector() == argmax(full).to_vector());
  }
}
