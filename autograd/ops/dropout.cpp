// Inverted dropout. Element i is kept when draw (counter + i) of the caller's generator, as a uniform number in
// [0, 1), is at least `rate`, so the mask is a pure function of the generator state: a parallel fill gives
// the same mask for any thread count, and the backward pass recomputes it instead of storing it.
#include <bit>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <type_traits>

#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace tg {

namespace {
// Draw d as a uniform number is (d >> 11) * 2^-53 (Rng::uniform); comparing the integer with ceil(rate * 2^53)
// gives the same decision without a conversion per element.
uint64_t keep_threshold(double rate) { return static_cast<uint64_t>(std::ceil(std::ldexp(rate, 53))); }

template <class T>
void masked_scale(const T* in, T* out, int64_t n, const Rng& rng, uint64_t base, uint64_t threshold, T scale) {
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = (rng.at(base + static_cast<uint64_t>(i)) >> 11) >= threshold;
    // keep ? in * scale : +0, selected by masking the product's bits: as a conditional, GCC branched on each random
    // draw (it will not multiply speculatively under trapping maths) and mispredicted half of them.
    using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
    const Bits mask = Bits(0) - static_cast<Bits>(keep);
    out[i] = std::bit_cast<T>(std::bit_cast<Bits>(in[i] * scale) & mask);
  }
}
}  // namespace

Variable dropout(const Variable& x, double rate, bool training, Rng& rng) {
  if (!(rate >= 0.0 && rate < 1.0)) {
    std::ostringstream msg;
    msg << "dropout: rate " << rate << " is outside [0, 1); it is the fraction of units dropped (0.5 drops half)";
    throw std::invalid_argument(msg.str());
  }
  // Keras applies nothing, and draws nothing, at inference or with rate 0.
  if (!training || rate == 0.0) return x;

  const Rng mask_rng = rng;
  const uint64_t base = rng.state().counter, threshold = keep_threshold(rate);
  const int64_t n = x.numel();
  rng.set_state({rng.state().seed, base + static_cast<uint64_t>(n)});
  const double scale = 1.0 / (1.0 - rate);

  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    masked_scale(x.value().data<T>(), y.data<T>(), n, mask_rng, base, threshold, static_cast<T>(scale));
  });
  // The backward pass redraws the mask and never reads x: the closure holds x's node, not its value.
  return record("dropout", std::move(y), {&x}, [xn = x.node_ptr(), mask_rng, base, threshold, scale, n](const Tensor& g) {
    Tensor gx = Tensor::empty(g.shape(), g.dtype());
    dispatch(g.dtype(), [&]<class T>() {
      masked_scale(g.data<T>(), gx.data<T>(), n, mask_rng, base, threshold, static_cast<T>(scale));
    });
    xn->accumulate_grad(std::move(gx));
  });
}

}  // namespace tg
