// One parameter type for models and optimizers: what the forward pass updates (BN moving statistics) is refused.
#include <doctest/doctest.h>

#include "autograd/autograd.h"
#include "optim/optim.h"

using namespace tg;

TEST_CASE("optimizer: a non-trainable parameter is refused, naming it and what to pass instead") {
  std::vector<Parameter> params = {{"conv2d/kernel", Variable(Tensor({2, 2}), true)},
                                   {"batch_normalization/moving_mean", Variable(Tensor({2})), false}};
  CHECK_THROWS_WITH_AS(Adam{params}, doctest::Contains("'batch_normalization/moving_mean' is not trainable"),
                       std::invalid_argument);
  params.pop_back();
  CHECK_NOTHROW(Adam{params});
}
