// upsample2d (Keras UpSampling2D): nearest repeats pixels; bilinear resizes as tf.image.resize does, with
// half-pixel centres (source = (dst + 0.5) / scale - 0.5), clamped at the borders.
//
// Bilinear is a separable linear map, y = A_h x A_w^T: one routine applies a sparse 1-D resampling matrix along an
// axis, and the backward pass applies the transposed matrices. Every output element gathers its own inputs in a
// fixed order, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace tg {

namespace {

// A sparse [rows, cols] matrix in compressed rows: row r holds (index[k], weight[k]) for k in [start[r], start[r+1]).
struct Resample1D {
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> start{0};
  std::vector<int64_t> index;
  std::vector<double> weight;

  void add(int64_t col, double w) {
    index.push_back(col);
    weight.push_back(w);
  }
  void end_row() {
    start.push_back(static_cast<int64_t>(index.size()));
    ++rows;
  }

  // The transposed matrix; each of its rows lists its entries in increasing original row order.
  Resample1D transposed() const {
    Resample1D t;
    t.rows = cols;
    t.cols = rows;
    t.start.assign(static_cast<size_t>(cols + 1), 0);
    for (int64_t col : index) ++t.start[col + 1];
    for (int64_t c = 0; c < cols; ++c) t.start[c + 1] += t.start[c];
    t.index.resize(index.size());
    t.weight.resize(weight.size());
    std::vector<int64_t> next(t.start.begin(), t.start.end() - 1);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = start[r]; k < start[r + 1]; ++k) {
        const int64_t pos = next[index[k]]++;
        t.index[pos] = r;
        t.weight[pos] = weight[k];
      }
    return t;
  }
};

// TensorFlow's half-pixel bilinear taps: lower = max(floor(src), 0), upper = min(ceil(src), in - 1),
// weight of upper = src - floor(src).
Resample1D bilinear_axis(int64_t in, int64_t scale) {
  Resample1D a;
  a.cols = in;
  for (int64_t o = 0; o < in * scale; ++o) {
    const double src = (static_cast<double>(o) + 0.5) / static_cast<double>(scale) - 0.5;
    const double lo = std::floor(src);
    const int64_t lower = std::max<int64_t>(static_cast<int64_t>(lo), 0);
    const int64_t upper = std::min<int64_t>(static_cast<int64_t>(std::ceil(src)), in - 1);
    const double lerp = src - lo;
    if (lower == upper) {
      a.add(lower, 1.0);
    } else {
      a.add(lower, 1.0 - lerp);
      a.add(upper, lerp);
    }
    a.end_row();
  }
  return a;
}

// x viewed as [outer, a.cols, inner] -> y [outer, a.rows, inner], y[o, r, :] = sum_k weight_k x[o, index_k, :].
template <class T>
void apply_along(const Resample1D& a, const T* x, int64_t outer, int64_t inner, T* y) {
#pragma omp parallel for schedule(static) if (outer * a.rows * inner > kParallelThreshold)
  for (int64_t orow = 0; orow < outer * a.rows; ++orow) {
    const int64_t o = orow / a.rows, r = orow % a.rows;
    T* dst = y + orow * inner;
    std::fill_n(dst, inner, T(0));
    for (int64_t k = a.start[r]; k < a.start[r + 1]; ++k) {
      const T* src = x + (o * a.cols + a.index[k]) * inner;
      const auto w = static_cast<T>(a.weight[k]);
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) dst[i] += w * src[i];
    }
  }
}

// y [N, A_h.rows, A_w.rows, C] = A_h x A_w^T for x [N, A_h.cols, A_w.cols, C].
Tensor resample(const Tensor& x, const Resample1D& along_h, const Resample1D& along_w) {
  const int64_t n = x.dim(0), c = x.dim(3);
  Tensor rows_done = Tensor::empty({n, along_h.rows, along_w.cols, c}, x.dtype());
  Tensor y = Tensor::empty({n, along_h.rows, along_w.rows, c}, x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    apply_along(along_h, x.data<T>(), n, along_w.cols * c, rows_done.data<T>());
    apply_along(along_w, rows_done.data<T>(), n * along_h.rows, c, y.data<T>());
  });
  return y;
}

// Nearest with integer factors needs no weights: each output row is an input row with every pixel repeated
// sw times, and the gradient of an input pixel is the sum of its sh x sw block (added in row-major order).
template <class T>
void nearest_forward(const T* x, int64_t rows, int64_t w, int64_t c, int64_t sh, int64_t sw, T* y) {
#pragma omp parallel for schedule(static) if (rows * w * c * sh * sw > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {  // r = n * h + iy
    const T* src = x + r * w * c;
    T* first = y + r * sh * w * sw * c;
    for (int64_t ix = 0; ix < w; ++ix)
      for (int64_t b = 0; b < sw; ++b) std::copy_n(src + ix * c, c, first + (ix * sw + b) * c);
    for (int64_t a = 1; a < sh; ++a) std::copy_n(first, w * sw * c, first + a * w * sw * c);
  }
}

template <class T>
void nearest_backward(const T* gy, int64_t rows, int64_t w, int64_t c, int64_t sh, int64_t sw, T* dx) {
#pragma omp parallel for schedule(static) if (rows * w * c * sh * sw > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    T* dst = dx + r * w * c;
    for (int64_t a = 0; a < sh; ++a) {
      const T* src = gy + (r * sh + a) * w * sw * c;
      for (int64_t ix = 0; ix < w; ++ix)
        for (int64_t b = 0; b < sw; ++b) {
          const T* s = src + (ix * sw + b) * c;
          T* d = dst + ix * c;
#pragma omp simd
          for (int64_t i = 0; i < c; ++i) d[i] += s[i];
        }
    }
  }
}

Variable upsample_nearest(const Variable& x, int64_t sh, int64_t sw) {
  const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
  Tensor y = Tensor::empty({n, h * sh, w * sw, c}, x.dtype());
  dispatch(x.dtype(), [&]<class T>() { nearest_forward(x.value().data<T>(), n * h, w, c, sh, sw, y.data<T>()); });
  return record("upsample2d_nearest", std::move(y), {&x}, [xn = x.node_ptr(), n, h, w, c, sh, sw](const Tensor& gy) {
    Tensor dx({n, h, w, c}, gy.dtype());
    dispatch(gy.dtype(), [&]<class T>() { nearest_backward(gy.data<T>(), n * h, w, c, sh, sw, dx.data<T>()); });
    xn->accumulate_grad(std::move(dx));
  });
}

}  // namespace

Variable upsample2d(const Variable& x, std::array<int, 2> size, Interpolation interpolation) {
  if (x.rank() != 4)
    throw std::invalid_argument("upsample2d: input must be [N, H, W, C], got " + shape_str(x.shape()));
  if (size[0] <= 0 || size[1] <= 0)
    throw std::invalid_argument("upsample2d: size must be positive integer factors, got (" + std::to_string(size[0]) +
                                ", " + std::to_string(size[1]) + ")");
  if (interpolation == Interpolation::Nearest) return upsample_nearest(x, size[0], size[1]);
  const Resample1D along_h = bilinear_axis(x.dim(1), size[0]), along_w = bilinear_axis(x.dim(2), size[1]);
  return record("upsample2d_bilinear", resample(x.value(), along_h, along_w), {&x},
                [xn = x.node_ptr(), along_h, along_w](const Tensor& gy) {
                  xn->accumulate_grad(resample(gy, along_h.transposed(), along_w.transposed()));
                });
}

}  // namespace tg
