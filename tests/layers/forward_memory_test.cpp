#include <doctest/doctest.h>

#include "autograd/autograd.h"
#include "layers/zoo.h"

using namespace tg;

// A user's own evaluation loop in C++ that forgets NoGrad and never calls backward(): each pass records a graph,
// and dropping the output must drop it. The seed U-Net's architecture at 64x64, 16 base filters (the seed's 64
// would take minutes for 1000 passes on two cores; the graph is the same).
TEST_CASE("graph: 1000 forward passes of the U-Net without NoGrad or backward keep live tensor bytes flat" *
          doctest::test_suite("slow")) {
  Model model = unet({64, 64, 1}, 2, /*base_filters=*/16, /*depth=*/4, /*dropout=*/0.5, /*batch_norm=*/false, 3);
  model.train();  // dropout active: the graph a training forward pass records
  Tensor images({1, 64, 64, 1});
  Rng(1).fill_uniform(images, 0.0, 1.0);
  const Variable x(images);
  const size_t nodes = recorded_nodes();
  size_t after_first = 0;
  for (int pass = 0; pass < 1000; ++pass) {
    const Variable y = model.forward(x);
    CHECK_MESSAGE(y.requires_grad(), "the pass records a graph");
    if (pass == 0) after_first = live_tensor_bytes();
    if (pass % 100 == 99) REQUIRE(live_tensor_bytes() == after_first);
  }
  CHECK(recorded_nodes() == nodes);
}
