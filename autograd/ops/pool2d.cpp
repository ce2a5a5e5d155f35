// max_pool2d and avg_pool2d over NHWC, with Keras's defaults (strides = pool size) and TensorFlow's 'same'
// padding. Padded cells never take part: they never win a max and are not counted in an average.
// Backward passes gather per input row (each thread owns whole rows), so results do not depend on threads.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace tg {

namespace {

struct PoolGeometry {
  int64_t n, h, w, c, oh, ow, ph, pw, sh, sw, pad_top, pad_left;

  // Window of output (oy, ox), clipped to the image: rows [y0, y1), columns [x0, x1).
  int64_t y0(int64_t oy) const { return std::max<int64_t>(oy * sh - pad_top, 0); }
  int64_t y1(int64_t oy) const { return std::min<int64_t>(oy * sh - pad_top + ph, h); }
  int64_t x0(int64_t ox) const { return std::max<int64_t>(ox * sw - pad_left, 0); }
  int64_t x1(int64_t ox) const { return std::min<int64_t>(ox * sw - pad_left + pw, w); }
  // Output rows whose window contains input row iy: [first, last].
  int64_t first_oy(int64_t iy) const {
    const int64_t t = iy + pad_top - ph + 1;
    return std::max<int64_t>(t <= 0 ? 0 : (t + sh - 1) / sh, 0);
  }
  int64_t last_oy(int64_t iy) const { return std::min<int64_t>((iy + pad_top) / sh, oh - 1); }
};

PoolGeometry pool_geometry(const char* op, const Variable& x, const Pool2DOptions& o) {
  if (x.rank() != 4)
    throw std::invalid_argument(std::string(op) + ": input must be [N, H, W, C], got " + shape_str(x.shape()));
  if (o.padding == Padding::Explicit)
    throw std::invalid_argument(std::string(op) + ": padding must be Valid or Same, not Explicit");
  std::array<int, 2> strides{};
  for (int a = 0; a < 2; ++a) {
    if (o.pool_size[a] <= 0)
      throw std::invalid_argument(std::string(op) + ": pool size must be positive, got " +
                                  std::to_string(o.pool_size[a]));
    strides[a] = o.strides[a] == -1 ? o.pool_size[a] : o.strides[a];
    if (strides[a] <= 0)
      throw std::invalid_argument(std::string(op) + ": stride must be positive (or -1 for the pool size), got " +
                                  std::to_string(o.strides[a]));
  }
  const int h = static_cast<int>(x.dim(1)), w = static_cast<int>(x.dim(2));
  std::array<int, 2> pad_h{0, 0}, pad_w{0, 0};
  if (o.padding == Padding::Same) {
    pad_h = same_padding_1d(h, o.pool_size[0], strides[0]);
    pad_w = same_padding_1d(w, o.pool_size[1], strides[1]);
  }
  const int oh = conv_output_size(h, o.pool_size[0], strides[0], 1, pad_h[0], pad_h[1]);
  const int ow = conv_output_size(w, o.pool_size[1], strides[1], 1, pad_w[0], pad_w[1]);
  if (oh <= 0 || ow <= 0)
    throw std::invalid_argument(std::string(op) + ": pool " + std::to_string(o.pool_size[0]) + "x" +
                                std::to_string(o.pool_size[1]) + " is larger than the input " + shape_str(x.shape()) +
                                " with padding 'valid'; use padding 'same' or a smaller pool");
  return {x.dim(0), h, w, x.dim(3), oh, ow, o.pool_size[0], o.pool_size[1], strides[0], strides[1],
          pad_h[0], pad_w[0]};
}

bool parallel_worth_it(int64_t elements) { return elements > kParallelThreshold; }

// Max over each window; with `arg`, also the first (in row-major window order) position of the max, as
// iy * w + ix, for the backward pass.
template <class T>
void max_pool_forward(const T* x, const PoolGeometry& g, T* y, int32_t* arg) {
#pragma omp parallel for schedule(static) if (parallel_worth_it(g.n * g.oh * g.ow * g.c))
  for (int64_t line = 0; line < g.n * g.oh; ++line) {
    const int64_t b = line / g.oh, oy = line % g.oh;
    const T* image = x + b * g.h * g.w * g.c;
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const int64_t o = (line * g.ow + ox) * g.c;
      T* out = y + o;
      const int64_t y0 = g.y0(oy), y1 = g.y1(oy), x0 = g.x0(ox), x1 = g.x1(ox);
      // Start from the first real cell rather than -inf, so an all -inf window still names a position.
      std::copy_n(image + (y0 * g.w + x0) * g.c, g.c, out);
      if (arg) std::fill_n(arg + o, g.c, static_cast<int32_t>(y0 * g.w + x0));
      for (int64_t iy = y0; iy < y1; ++iy)
        for (int64_t ix = (iy == y0 ? x0 + 1 : x0); ix < x1; ++ix) {
          const T* in = image + (iy * g.w + ix) * g.c;
          if (arg) {
            int32_t* a = arg + o;
            const auto pos = static_cast<int32_t>(iy * g.w + ix);
            for (int64_t c = 0; c < g.c; ++c)
              if (in[c] > out[c]) out[c] = in[c], a[c] = pos;  // strict: ties keep the first max
          } else {
#pragma omp simd
            for (int64_t c = 0; c < g.c; ++c) out[c] = std::max(out[c], in[c]);
          }
        }
    }
  }
}

template <class T>
void max_pool_backward(const T* gy, const int32_t* arg, const PoolGeometry& g, T* dx) {
#pragma omp parallel for schedule(static) if (parallel_worth_it(g.n * g.h * g.w * g.c))
  for (int64_t row = 0; row < g.n * g.h; ++row) {
    const int64_t b = row / g.h, iy = row % g.h;
    T* dst_row = dx + row * g.w * g.c;
    const int64_t row_start = iy * g.w;  // positions are iy * w + ix within the image
    for (int64_t oy = g.first_oy(iy); oy <= g.last_oy(iy); ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t o = ((b * g.oh + oy) * g.ow + ox) * g.c;
        for (int64_t c = 0; c < g.c; ++c) {
          const int64_t ix = arg[o + c] - row_start;
          if (ix >= 0 && ix < g.w) dst_row[ix * g.c + c] += gy[o + c];
        }
      }
  }
}

template <class T>
void avg_pool_forward(const T* x, const PoolGeometry& g, T* y) {
#pragma omp parallel for schedule(static) if (parallel_worth_it(g.n * g.oh * g.ow * g.c))
  for (int64_t line = 0; line < g.n * g.oh; ++line) {
    const int64_t b = line / g.oh, oy = line % g.oh;
    const T* image = x + b * g.h * g.w * g.c;
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      T* out = y + (line * g.ow + ox) * g.c;
      const int64_t y0 = g.y0(oy), y1 = g.y1(oy), x0 = g.x0(ox), x1 = g.x1(ox);
      std::fill_n(out, g.c, T(0));
      for (int64_t iy = y0; iy < y1; ++iy)
        for (int64_t ix = x0; ix < x1; ++ix) {
          const T* in = image + (iy * g.w + ix) * g.c;
#pragma omp simd
          for (int64_t c = 0; c < g.c; ++c) out[c] += in[c];
        }
      const auto count = static_cast<T>((y1 - y0) * (x1 - x0));  // real cells only
#pragma omp simd
      for (int64_t c = 0; c < g.c; ++c) out[c] /= count;
    }
  }
}

template <class T>
void avg_pool_backward(const T* gy, const PoolGeometry& g, T* dx) {
#pragma omp parallel for schedule(static) if (parallel_worth_it(g.n * g.h * g.w * g.c))
  for (int64_t row = 0; row < g.n * g.h; ++row) {
    const int64_t b = row / g.h, iy = row % g.h;
    T* dst_row = dx + row * g.w * g.c;
    for (int64_t oy = g.first_oy(iy); oy <= g.last_oy(iy); ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const T* src = gy + ((b * g.oh + oy) * g.ow + ox) * g.c;
        const int64_t x0 = g.x0(ox), x1 = g.x1(ox);
        const T scale = T(1) / static_cast<T>((g.y1(oy) - g.y0(oy)) * (x1 - x0));
        for (int64_t ix = x0; ix < x1; ++ix) {
          T* dst = dst_row + ix * g.c;
#pragma omp simd
          for (int64_t c = 0; c < g.c; ++c) dst[c] += src[c] * scale;
        }
      }
  }
}

}  // namespace

Variable max_pool2d(const Variable& x, const Pool2DOptions& options) {
  const PoolGeometry g = pool_geometry("max_pool2d", x, options);
  Tensor y = Tensor::empty({g.n, g.oh, g.ow, g.c}, x.dtype());
  // Positions of the maxima, kept only when a backward pass can follow.
  std::shared_ptr<std::vector<int32_t>> arg;
  if (x.requires_grad() && grad_enabled()) arg = std::make_shared<std::vector<int32_t>>(static_cast<size_t>(y.numel()));
  dispatch(x.dtype(), [&]<class T>() {
    max_pool_forward(x.value().data<T>(), g, y.data<T>(), arg ? arg->data() : nullptr);
  });
  // The backward pass reads only the positions of the maxima, not x.
  return record("max_pool2d", std::move(y), {&x}, [xn = x.node_ptr(), shape = x.shape(), g, arg](const Tensor& gy) {
    Tensor dx(shape, gy.dtype());
    dispatch(gy.dtype(), [&]<class T>() { max_pool_backward(gy.data<T>(), arg->data(), g, dx.data<T>()); });
    xn->accumulate_grad(std::move(dx));
  });
}

Variable avg_pool2d(const Variable& x, const Pool2DOptions& options) {
  const PoolGeometry g = pool_geometry("avg_pool2d", x, options);
  Tensor y = Tensor::empty({g.n, g.oh, g.ow, g.c}, x.dtype());
  dispatch(x.dtype(), [&]<class T>() { avg_pool_forward(x.value().data<T>(), g, y.data<T>()); });
  return record("avg_pool2d", std::move(y), {&x}, [xn = x.node_ptr(), shape = x.shape(), g](const Tensor& gy) {
    Tensor dx(shape, gy.dtype());
    dispatch(gy.dtype(), [&]<class T>() { avg_pool_backward(gy.data<T>(), g, dx.data<T>()); });
    xn->accumulate_grad(std::move(dx));
  });
}

}  // namespace tg
