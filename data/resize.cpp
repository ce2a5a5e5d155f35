#include "data/resize.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace tg::data {

namespace {

int channels_of(const Tensor& t) {
  if (t.rank() == 2) return 1;
  if (t.rank() == 3) return static_cast<int>(t.dim(2));
  throw std::invalid_argument("expected an [H, W] or [H, W, C] tensor, got " + shape_str(t.shape()));
}

Shape with_size(const Tensor& t, int h, int w) {
  Shape s = t.shape();
  s[0] = h;
  s[1] = w;
  return s;
}

void check_size(int h, int w) {
  if (h <= 0 || w <= 0)
    throw std::invalid_argument("resize/crop to " + std::to_string(h) + "x" + std::to_string(w) + ": sizes must be positive");
}

struct Tap {
  int lo, hi;
  float w_hi;
};

std::vector<Tap> bilinear_taps(int in, int out) {
  std::vector<Tap> taps(out);
  const double scale = static_cast<double>(in) / out;
  for (int d = 0; d < out; ++d) {
    const double src = std::clamp((d + 0.5) * scale - 0.5, 0.0, static_cast<double>(in - 1));
    const int lo = static_cast<int>(std::floor(src));
    taps[d] = {lo, std::min(lo + 1, in - 1), static_cast<float>(src - lo)};
  }
  return taps;
}

}  // namespace

Tensor resize_bilinear(const Tensor& image, int out_h, int out_w) {
  check_size(out_h, out_w);
  const int H = static_cast<int>(image.dim(0)), W = static_cast<int>(image.dim(1)), C = channels_of(image);
  if (H == out_h && W == out_w) return image.clone();
  const std::vector<Tap> ty = bilinear_taps(H, out_h), tx = bilinear_taps(W, out_w);
  Tensor out(with_size(image, out_h, out_w));
  const float* src = image.data<float>();
  float* dst = out.data<float>();
  for (int y = 0; y < out_h; ++y) {
    const float* r0 = src + static_cast<size_t>(ty[y].lo) * W * C;
    const float* r1 = src + static_cast<size_t>(ty[y].hi) * W * C;
    const float wy = ty[y].w_hi;
    float* o = dst + static_cast<size_t>(y) * out_w * C;
    for (int x = 0; x < out_w; ++x) {
      const float wx = tx[x].w_hi;
      const int a = tx[x].lo * C, b = tx[x].hi * C;
      for (int c = 0; c < C; ++c) {
        const float top = r0[a + c] + wx * (r0[b + c] - r0[a + c]);
        const float bottom = r1[a + c] + wx * (r1[b + c] - r1[a + c]);
        o[x * C + c] = top + wy * (bottom - top);
      }
    }
  }
  return out;
}

Tensor resize_nearest(const Tensor& t, int out_h, int out_w, double phase_y, double phase_x) {
  check_size(out_h, out_w);
  if (!(phase_y >= 0 && phase_y < 1 && phase_x >= 0 && phase_x < 1))
    throw std::invalid_argument("resize_nearest: phases must be in [0, 1), got " + std::to_string(phase_y) + ", " +
                                std::to_string(phase_x));
  const int H = static_cast<int>(t.dim(0)), W = static_cast<int>(t.dim(1)), C = channels_of(t);
  if (H == out_h && W == out_w) return t.clone();
  std::vector<int> sx(out_w);
  for (int x = 0; x < out_w; ++x)
    sx[x] = std::min(static_cast<int>(std::floor((x + phase_x) * W / static_cast<double>(out_w))), W - 1);
  Tensor out(with_size(t, out_h, out_w));
  const float* src = t.data<float>();
  float* dst = out.data<float>();
  for (int y = 0; y < out_h; ++y) {
    const int yy = std::min(static_cast<int>(std::floor((y + phase_y) * H / static_cast<double>(out_h))), H - 1);
    const float* row = src + static_cast<size_t>(yy) * W * C;
    float* o = dst + static_cast<size_t>(y) * out_w * C;
    for (int x = 0; x < out_w; ++x)
      for (int c = 0; c < C; ++c) o[x * C + c] = row[sx[x] * C + c];
  }
  return out;
}

Tensor resize_image(const Tensor& image, int out_h, int out_w, Interpolation how) {
  return how == Interpolation::Nearest ? resize_nearest(image, out_h, out_w) : resize_bilinear(image, out_h, out_w);
}

Tensor crop(const Tensor& t, int top, int left, int h, int w) {
  check_size(h, w);
  const int H = static_cast<int>(t.dim(0)), W = static_cast<int>(t.dim(1)), C = channels_of(t);
  if (top < 0 || left < 0 || top + h > H || left + w > W)
    throw std::invalid_argument("crop of " + std::to_string(h) + "x" + std::to_string(w) + " at (" +
                                std::to_string(top) + ", " + std::to_string(left) + ") does not fit in " +
                                shape_str(t.shape()));
  Tensor out(with_size(t, h, w));
  const float* src = t.data<float>();
  float* dst = out.data<float>();
  for (int y = 0; y < h; ++y)
    std::copy_n(src + (static_cast<size_t>(top + y) * W + left) * C, static_cast<size_t>(w) * C,
                dst + static_cast<size_t>(y) * w * C);
  return out;
}

int mirrored_index(int i, int n) {
  const int period = 2 * n;
  const int m = ((i % period) + period) % period;
  return m < n ? m : period - 1 - m;
}

Tensor pad_mirrored(const Tensor& t, int top, int bottom, int left, int right) {
  if (top < 0 || bottom < 0 || left < 0 || right < 0)
    throw std::invalid_argument("pad_mirrored: margins must not be negative");
  const int H = static_cast<int>(t.dim(0)), W = static_cast<int>(t.dim(1)), C = channels_of(t);
  const int h = H + top + bottom, w = W + left + right;
  check_size(h, w);
  Tensor out(with_size(t, h, w));
  const float* src = t.data<float>();
  float* dst = out.data<float>();
  for (int y = 0; y < h; ++y) {
    const int sy = mirrored_index(y - top, H);
    for (int x = 0; x < w; ++x)
      std::copy_n(src + (static_cast<size_t>(sy) * W + mirrored_index(x - left, W)) * C, C,
                  dst + (static_cast<size_t>(y) * w + x) * C);
  }
  return out;
}

}  // namespace tg::data
