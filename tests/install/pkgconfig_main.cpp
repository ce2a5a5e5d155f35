// Built with nothing but `pkg-config --cflags --libs tapegrad` (tests/install/run.sh): a gradient through the
// installed library, checked by hand. d/dx sum(x * x) = 2x.
#include <cstdio>

#include "autograd/autograd.h"

int main() {
  tg::Variable x(tg::Tensor::from({1.0, -2.0, 3.0}, {3}, tg::DType::F64), true);
  tg::sum(tg::mul(x, x)).backward();
  const std::vector<double> g = x.grad().to_vector();
  std::printf("gradient %g %g %g\n", g[0], g[1], g[2]);
  return g == std::vector<double>{2.0, -4.0, 6.0} ? 0 : 1;
}
