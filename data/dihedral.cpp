#include "data/dihedral.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace tg::data {

Tensor dihedral(const Tensor& t, int k, bool undo) {
  if (k < 0 || k > 7) throw std::invalid_argument("dihedral: symmetry " + std::to_string(k) + " is not in 0..7");
  if (!t.defined() || (t.rank() != 3 && t.rank() != 4) || t.dtype() != DType::F32)
    throw std::invalid_argument("dihedral: needs a float32 [H, W, C] image or [N, H, W, C] batch, got " +
                                (t.defined() ? shape_str(t.shape()) : std::string("an empty Tensor")));
  const bool batched = t.rank() == 4;
  const int64_t N = batched ? t.dim(0) : 1;
  const int H = static_cast<int>(t.dim(batched ? 1 : 0)), W = static_cast<int>(t.dim(batched ? 2 : 1));
  const int64_t C = t.dim(batched ? 3 : 2);
  const bool transpose = k & 4, flip_x = k & 1, flip_y = k & 2;
  const int oh = transpose ? W : H, ow = transpose ? H : W;
  Tensor out(batched ? Shape{N, oh, ow, C} : Shape{oh, ow, C});
  const int64_t plane = static_cast<int64_t>(H) * W * C;
  for (int64_t n = 0; n < N; ++n) {
    const float* src = t.data<float>() + n * plane;
    float* dst = out.data<float>() + n * plane;
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x) {
        int sy = y, sx = x;  // forward: flip the output coordinate, then read transposed
        if (!undo) {
          if (flip_y) sy = oh - 1 - sy;
          if (flip_x) sx = ow - 1 - sx;
          if (transpose) std::swap(sy, sx);
        } else {  // inverse: transpose back, then undo the flips in the source's frame
          if (transpose) std::swap(sy, sx);
          if (flip_y) sy = H - 1 - sy;
          if (flip_x) sx = W - 1 - sx;
        }
        std::copy_n(src + (static_cast<int64_t>(sy) * W + sx) * C, C, dst + (static_cast<int64_t>(y) * ow + x) * C);
      }
  }
  return out;
}

Tensor average_over_views(const Tensor& input, const std::function<Tensor(const Tensor&)>& predict) {
  const bool batched = input.rank() == 4;
  const int views = dihedral_views(input.dim(batched ? 1 : 0), input.dim(batched ? 2 : 1));
  Tensor sum;
  for (int k = 0; k < views; ++k) {
    const Tensor p = dihedral(predict(dihedral(input, k, false)), k, true);
    if (!sum.defined()) {
      sum = p;
      continue;
    }
    float* s = sum.data<float>();
    const float* q = p.data<float>();
    for (int64_t i = 0; i < sum.numel(); ++i) s[i] += q[i];
  }
  for (float& v : sum.span<float>()) v /= static_cast<float>(views);
  return sum;
}

}  // namespace tg::data
