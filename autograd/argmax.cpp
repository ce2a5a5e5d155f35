#include "autograd/argmax.h"

#include <cmath>

#include "autograd/parallel.h"

namespace tg {

Tensor argmax(const Tensor& x, int axis) {
  if (!x.defined() || x.rank() == 0) throw std::invalid_argument("argmax: needs a tensor with at least one axis");
  const int rank = x.rank();
  if (axis < -rank || axis >= rank)
    throw std::invalid_argument("argmax: axis " + std::to_string(axis) + " is out of range for a tensor of shape " +
                                shape_str(x.shape()));
  if (axis < 0) axis += rank;
  const int64_t k = x.dim(axis);
  if (k == 0) throw std::invalid_argument("argmax: axis " + std::to_string(axis) + " of " + shape_str(x.shape()) + " is empty");
  Shape out_shape = x.shape();
  out_shape.erase(out_shape.begin() + axis);
  Tensor out = Tensor::empty(out_shape);
  int64_t inner = 1;
  for (int a = axis + 1; a < rank; ++a) inner *= x.dim(a);
  const int64_t outer = x.numel() / (k * inner);
  float* ids = out.data<float>();
  dispatch(x.dtype(), [&]<class T>() {
    const T* v = x.data<T>();
#pragma omp parallel for schedule(static) if (outer * inner * k > kParallelThreshold)
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const T* p = v + o * k * inner + i;
        int64_t best = 0;
        for (int64_t c = 0; c < k; ++c) {
          const T value = p[c * inner];
          if (std::isnan(value)) {
            best = c;
            break;
          }
          if (value > p[best * inner]) best = c;
        }
        ids[o * inner + i] = static_cast<float>(best);
      }
  });
  return out;
}

}  // namespace tg
