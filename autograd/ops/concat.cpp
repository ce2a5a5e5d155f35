// concat along any axis (the U-Net's skip connections join along channels). Every input is viewed as
// [outer, width_i] where outer is the product of the axes before `axis` and width_i the rest of input i, so
// both directions are row-by-row copies.
#include <cstring>

#include "autograd/ops.h"

namespace tg {

namespace {

int concat_axis(const std::vector<Variable>& xs, int axis) {
  if (xs.empty()) throw std::invalid_argument("concat: needs at least one input, got an empty list");
  for (size_t i = 0; i < xs.size(); ++i)
    if (!xs[i].defined()) throw std::invalid_argument("concat: input " + std::to_string(i) + " is undefined");
  const int rank = xs[0].rank();
  const int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw std::invalid_argument("concat: axis " + std::to_string(axis) + " is out of range for inputs of rank " +
                                std::to_string(rank) + " (shape " + shape_str(xs[0].shape()) + ")");
  for (size_t i = 1; i < xs.size(); ++i) {
    const Shape& s0 = xs[0].shape();
    const Shape& si = xs[i].shape();
    if (xs[i].dtype() != xs[0].dtype())
      throw std::invalid_argument("concat: cannot join " + std::string(dtype_name(xs[0].dtype())) + " and " +
                                  dtype_name(xs[i].dtype()) + " inputs (input 0 and input " + std::to_string(i) +
                                  ")");
    if (xs[i].rank() != rank)
      throw std::invalid_argument("concat: cannot join " + shape_str(s0) + " and " + shape_str(si) + " along axis " +
                                  std::to_string(a) + ": they have different ranks (" + std::to_string(rank) +
                                  " vs " + std::to_string(xs[i].rank()) + ")");
    for (int d = 0; d < rank; ++d)
      if (d != a && s0[d] != si[d])
        throw std::invalid_argument("concat: cannot join " + shape_str(s0) + " and " + shape_str(si) +
                                    " along axis " + std::to_string(a) + ": they differ on axis " +
                                    std::to_string(d) + " (" + std::to_string(s0[d]) + " vs " +
                                    std::to_string(si[d]) + ")");
  }
  return a;
}

}  // namespace

Variable concat(const std::vector<Variable>& xs, int axis) {
  const int a = concat_axis(xs, axis);
  const Shape& s0 = xs[0].shape();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < a; ++d) outer *= s0[d];
  for (int d = a + 1; d < static_cast<int>(s0.size()); ++d) inner *= s0[d];

  // Byte widths of each input's rows and where they start in an output row.
  const size_t elem = xs[0].value().element_size();
  std::vector<size_t> width(xs.size()), offset(xs.size());
  Shape out_shape = s0;
  out_shape[a] = 0;
  size_t out_width = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    out_shape[a] += xs[i].dim(a);
    width[i] = static_cast<size_t>(xs[i].dim(a) * inner) * elem;
    offset[i] = out_width;
    out_width += width[i];
  }

  Tensor y = Tensor::empty(out_shape, xs[0].dtype());
  std::byte* py = y.bytes();
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::byte* px = xs[i].value().bytes();
    const size_t w = width[i], off = offset[i];
#pragma omp parallel for schedule(static) if (static_cast<size_t>(outer) * w > 262144)
    for (int64_t o = 0; o < outer; ++o) std::memcpy(py + o * out_width + off, px + o * w, w);
  }

  const DType dtype = xs[0].dtype();
  std::vector<std::shared_ptr<Node>> nodes;
  std::vector<Shape> shapes;
  for (const Variable& x : xs) {
    nodes.push_back(x.node_ptr());
    shapes.push_back(x.shape());
  }
  return record("concat", std::move(y), xs,
                [nodes, shapes, outer, width, offset, out_width, dtype](const Tensor& grad) {
    const Tensor g = grad.to(dtype);  // the byte widths above are in this dtype
    const std::byte* pg = g.bytes();
    for (size_t i = 0; i < nodes.size(); ++i) {
      Node& node = *nodes[i];
      if (!node.requires_grad) continue;
      const size_t w = width[i], off = offset[i];
      const bool parallel = static_cast<size_t>(outer) * w > 262144;
      if (node.grad.defined() && node.grad.dtype() == dtype) {
        // A value used twice (the skip connection): add the slice into the gradient it already has.
        dispatch(dtype, [&]<class T>() {
          T* dst = node.grad.data<T>();
          const int64_t n = static_cast<int64_t>(w / sizeof(T)), stride = static_cast<int64_t>(out_width / sizeof(T));
          const T* src = g.data<T>() + off / sizeof(T);
#pragma omp parallel for schedule(static) if (parallel)
          for (int64_t o = 0; o < outer; ++o) {
#pragma omp simd
            for (int64_t j = 0; j < n; ++j) dst[o * n + j] += src[o * stride + j];
          }
        });
        continue;
      }
      Tensor gi = Tensor::empty(shapes[i], dtype);
      std::byte* out = gi.bytes();
#pragma omp parallel for schedule(static) if (parallel)
      for (int64_t o = 0; o < outer; ++o) std::memcpy(out + o * w, pg + o * out_width + off, w);
      node.accumulate_grad(std::move(gi));
    }
  });
}

}  // namespace tg
