// max_pool2d and avg_pool2d over NHWC, with Keras's defaults (strides = pool size) and TensorFlow's 'same'
// padding. Padded cells never take part: they never win a max and are not counted in an average.
// Backward passes write or gather per input row (each thread owns whole rows), so results do not depend on threads.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "autograd/allocator.h"
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

// Max over each window; with `arg`, also where in the window the first (in row-major window order) max is:
// ky * pw + kx, one small integer per output (a byte for windows of up to 256 cells) for the backward pass.
// Both are whole-channel passes that vectorise: the max first (std::max keeps the earlier of equal values, and a
// NaN first cell, as a strict comparison running in window order would), then the position, as the first cell
// equal to the max (0 when the max is a NaN).
template <class T, class Index>
void max_pool_window(const T* image, const PoolGeometry& g, int64_t oy, int64_t ox, T* out, Index* arg) {
  const int64_t y0 = g.y0(oy), y1 = g.y1(oy), x0 = g.x0(ox), x1 = g.x1(ox), c = g.c;
  const int64_t wy = oy * g.sh - g.pad_top, wx = ox * g.sw - g.pad_left;  // the window's corner
  // Start from the first real cell rather than -inf, so an all -inf window still names a position.
  std::copy_n(image + (y0 * g.w + x0) * c, c, out);
  for (int64_t iy = y0; iy < y1; ++iy)
    for (int64_t ix = (iy == y0 ? x0 + 1 : x0); ix < x1; ++ix) {
      const T* in = image + (iy * g.w + ix) * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) out[j] = std::max(out[j], in[j]);
    }
  if (!arg) return;
  std::fill_n(arg, c, static_cast<Index>((y0 - wy) * g.pw + (x0 - wx)));
  for (int64_t iy = y1 - 1; iy >= y0; --iy)
    for (int64_t ix = x1 - 1; ix >= x0; --ix) {
      const T* in = image + (iy * g.w + ix) * c;
      const auto k = static_cast<Index>((iy - wy) * g.pw + (ix - wx));
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) arg[j] = in[j] == out[j] ? k : arg[j];
    }
}

template <class T, class Index>
void max_pool_forward(const T* x, const PoolGeometry& g, T* y, Index* arg) {
#pragma omp parallel for schedule(static) if (parallel_worth_it(g.n * g.oh * g.ow * g.c))
  for (int64_t line = 0; line < g.n * g.oh; ++line) {
    const int64_t b = line / g.oh, oy = line % g.oh;
    const T* image = x + b * g.h * g.w * g.c;
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const int64_t o = (line * g.ow + ox) * g.c;
      max_pool_window(image, g, oy, ox, y + o, arg ? arg + o : nullptr);
    }
  }
}

// Windows that tile the image (stride = pool size, the U-Net's 2x2): every input cell is in at most one window,
// so each line of windows writes its own input rows in full, max or zero, and dx needs no zero-filling first.
template <class T, class Index>
void max_pool_backward_tiled(const T* gy, const Index* arg, const PoolGeometry& g, T* dx) {
#pragma omp parallel for schedule(static) if (parallel_worth_it(g.n * g.h * g.w * g.c))
  for (int64_t line = 0; line < g.n * g.oh; ++line) {
    const int64_t b = line / g.oh, oy = line % g.oh;
    for (int64_t ky = 0; ky < g.ph; ++ky) {
      const int64_t iy = oy * g.sh - g.pad_top + ky;
      if (iy < 0 || iy >= g.h) continue;
      T* row = dx + (b * g.h + iy) * g.w * g.c;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t o = (line * g.ow + ox) * g.c;
        for (int64_t kx = 0; kx < g.pw; ++kx) {
          const int64_t ix = ox * g.sw - g.pad_left + kx;
          if (ix < 0 || ix >= g.w) continue;
          const auto k = static_cast<Index>(ky * g.pw + kx);
          const Index* a = arg + o;
          const T* src = gy + o;
          T* dst = row + ix * g.c;
          // The gradient where the max was, +0 elsewhere: a mask on the bits (so it vectorises and an infinite
          // or NaN gradient elsewhere is not turned into NaN, as multiplying by 0 would).
          using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
#pragma omp simd
          for (int64_t c = 0; c < g.c; ++c)
            dst[c] = std::bit_cast<T>(std::bit_cast<Bits>(src[c]) & (Bits{0} - static_cast<Bits>(a[c] == k)));
        }
      }
      // Columns after the last window ('valid' drops them) get no gradient.
      const int64_t covered = std::min<int64_t>(g.ow * g.sw - g.pad_left, g.w);
      std::fill(row + covered * g.c, row + g.w * g.c, T(0));
    }
  }
  // Rows after the last window, likewise.
  const int64_t covered = std::min<int64_t>(g.oh * g.sh - g.pad_top, g.h);
  for (int64_t b = 0; b < g.n; ++b)
    std::fill(dx + (b * g.h + covered) * g.w * g.c, dx + (b + 1) * g.h * g.w * g.c, T(0));
}

// Any windows (overlapping ones too): each input row gathers from the windows over it, in a fixed order, so each
// thread owns whole rows and the sums do not depend on threads. dx starts zero-filled.
template <class T, class Index>
void max_pool_backward_gather(const T* gy, const Index* arg, const PoolGeometry& g, T* dx) {
#pragma omp parallel for schedule(static) if (parallel_worth_it(g.n * g.h * g.w * g.c))
  for (int64_t row = 0; row < g.n * g.h; ++row) {
    const int64_t b = row / g.h, iy = row % g.h;
    T* dst_row = dx + row * g.w * g.c;
    for (int64_t oy = g.first_oy(iy); oy <= g.last_oy(iy); ++oy) {
      const int64_t first = (iy - (oy * g.sh - g.pad_top)) * g.pw;  // window positions of this row: [first, +pw)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t o = ((b * g.oh + oy) * g.ow + ox) * g.c;
        const int64_t wx = ox * g.sw - g.pad_left;
        for (int64_t c = 0; c < g.c; ++c) {
          const int64_t kx = static_cast<int64_t>(arg[o + c]) - first;
          if (kx >= 0 && kx < g.pw) dst_row[(wx + kx) * g.c + c] += gy[o + c];
        }
      }
    }
  }
}

template <class T, class Index>
Tensor max_pool_backward(const Tensor& gy, const Index* arg, const PoolGeometry& g, const Shape& x_shape) {
  const bool tiled = g.sh == g.ph && g.sw == g.pw;
  Tensor dx = tiled ? Tensor::empty(x_shape, gy.dtype()) : Tensor(x_shape, gy.dtype());
  if (tiled) max_pool_backward_tiled(gy.data<T>(), arg, g, dx.data<T>());
  else max_pool_backward_gather(gy.data<T>(), arg, g, dx.data<T>());
  return dx;
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
  // Where the maxima are, kept only when a backward pass can follow: a byte per output for windows of up to 256
  // cells, from the tensor cache.
  const bool keep = x.requires_grad() && grad_enabled();
  const bool small = g.ph * g.pw <= 256;
  std::shared_ptr<std::byte[]> arg;
  if (keep) arg = cached_storage(static_cast<size_t>(y.numel()) * (small ? sizeof(uint8_t) : sizeof(int32_t)));
  dispatch(x.dtype(), [&]<class T>() {
    if (!keep) max_pool_forward<T, uint8_t>(x.value().data<T>(), g, y.data<T>(), nullptr);
    else if (small) max_pool_forward(x.value().data<T>(), g, y.data<T>(), reinterpret_cast<uint8_t*>(arg.get()));
    else max_pool_forward(x.value().data<T>(), g, y.data<T>(), reinterpret_cast<int32_t*>(arg.get()));
  });
  // The backward pass reads only the positions of the maxima, not x.
  return record("max_pool2d", std::move(y), {&x},
                [xn = x.node_ptr(), shape = x.shape(), g, arg, small](const Tensor& gy) {
    Tensor dx = dispatch(gy.dtype(), [&]<class T>() {
      return small ? max_pool_backward<T>(gy, reinterpret_cast<const uint8_t*>(arg.get()), g, shape)
                   : max_pool_backward<T>(gy, reinterpret_cast<const int32_t*>(arg.get()), g, shape);
    });
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
