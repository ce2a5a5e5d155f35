#include "data/synthetic.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace tg::data {

namespace {

constexpr uint64_t kSyntheticStream = 0x5e17'da7aULL;

enum class ShapeKind { Ellipse, Rectangle, Triangle };

struct DrawnShape {
  int class_id;
  ShapeKind kind;
  double cx, cy, a, b, angle;
  std::array<double, 6> tri;  // triangle vertices x0 y0 x1 y1 x2 y2
  double extent;              // bounding radius
};

DrawnShape draw_shape(Rng& rng, int num_classes, int H, int W) {
  DrawnShape s{};
  s.class_id = 1 + static_cast<int>(rng.uniform_int(num_classes - 1));
  s.kind = static_cast<ShapeKind>((s.class_id - 1) % 3);  // the kind is a cue as well as the colour
  s.cx = rng.uniform(0, W);
  s.cy = rng.uniform(0, H);
  const double r = rng.uniform(0.08, 0.25) * std::min(H, W);
  s.a = r;
  s.b = r * rng.uniform(0.5, 1.0);
  s.angle = rng.uniform(0, M_PI);
  for (int k = 0; k < 3; ++k) {
    const double t = s.angle + 2 * M_PI * k / 3 + rng.uniform(-0.4, 0.4), rr = r * rng.uniform(0.7, 1.0);
    s.tri[2 * k] = s.cx + rr * std::cos(t);
    s.tri[2 * k + 1] = s.cy + rr * std::sin(t);
  }
  s.extent = r * 1.5;
  return s;
}

bool inside(const DrawnShape& s, double x, double y) {
  const double dx = x - s.cx, dy = y - s.cy;
  const double u = dx * std::cos(s.angle) + dy * std::sin(s.angle);
  const double v = -dx * std::sin(s.angle) + dy * std::cos(s.angle);
  switch (s.kind) {
    case ShapeKind::Ellipse: return (u * u) / (s.a * s.a) + (v * v) / (s.b * s.b) <= 1.0;
    case ShapeKind::Rectangle: return std::fabs(u) <= s.a && std::fabs(v) <= s.b;
    case ShapeKind::Triangle: {
      double sign[3];
      for (int k = 0; k < 3; ++k) {
        const double x0 = s.tri[2 * k], y0 = s.tri[2 * k + 1];
        const double x1 = s.tri[(2 * k + 2) % 6], y1 = s.tri[(2 * k + 3) % 6];
        sign[k] = (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0);
      }
      return (sign[0] >= 0 && sign[1] >= 0 && sign[2] >= 0) || (sign[0] <= 0 && sign[1] <= 0 && sign[2] <= 0);
    }
  }
  return false;
}

// Class colours: grey levels well above the background (0.1 .. 0.4), or hues spread around the circle.
std::array<float, 3> class_colour(int c, int num_classes, int channels) {
  const double t = num_classes > 2 ? static_cast<double>(c - 1) / (num_classes - 2) : 0.0;
  if (channels == 1) {
    const float v = static_cast<float>(0.55 + 0.4 * t);
    return {v, v, v};
  }
  const double h = 6.0 * (c - 1) / (num_classes - 1);  // HSV with s = 0.8, v = 0.95
  const double v = 0.95, lo = v * 0.2, f = h - std::floor(h);
  const double rise = lo + (v - lo) * f, fall = v - (v - lo) * f;
  switch (static_cast<int>(h) % 6) {
    case 0: return {float(v), float(rise), float(lo)};
    case 1: return {float(fall), float(v), float(lo)};
    case 2: return {float(lo), float(v), float(rise)};
    case 3: return {float(lo), float(fall), float(v)};
    case 4: return {float(rise), float(lo), float(v)};
    default: return {float(v), float(lo), float(fall)};
  }
}

}  // namespace

SyntheticDataset::SyntheticDataset(SyntheticOptions o) : options_(o) {
  if (o.height <= 0 || o.width <= 0) throw std::invalid_argument("SyntheticDataset: height and width must be positive");
  if (o.channels != 1 && o.channels != 3) throw std::invalid_argument("SyntheticDataset: channels must be 1 or 3");
  if (o.num_classes < 2) throw std::invalid_argument("SyntheticDataset: num_classes must be at least 2");
  if (o.min_shapes < 0 || o.max_shapes < o.min_shapes)
    throw std::invalid_argument("SyntheticDataset: need 0 <= min_shapes <= max_shapes");
  spec_ = {o.height, o.width, o.channels, o.num_classes, -1};
}

std::string SyntheticDataset::name(size_t index) const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%05zu", index);
  return buf;
}

Sample SyntheticDataset::get(size_t index, Rng*) const {
  if (index >= options_.count)
    throw std::out_of_range("SyntheticDataset: index " + std::to_string(index) + " of " + std::to_string(options_.count));
  const int H = options_.height, W = options_.width, C = options_.channels;
  Rng rng = Rng::derive(options_.seed, kSyntheticStream, index);
  Sample s{Tensor({H, W, C}), Tensor({H, W})};
  float* img = s.image.data<float>();
  float* lab = s.labels.data<float>();

  // Background: a level per channel plus three random plane waves, so that "dark" is not the whole rule.
  std::array<float, 3> base{};
  for (int c = 0; c < C; ++c) base[c] = static_cast<float>(rng.uniform(0.1, 0.25));
  std::array<std::array<double, 4>, 3> waves{};  // amplitude, kx, ky, phase
  for (auto& w : waves) {
    const double period = rng.uniform(8, 40), dir = rng.uniform(0, M_PI);
    w = {rng.uniform(0.02, 0.05), 2 * M_PI * std::cos(dir) / period, 2 * M_PI * std::sin(dir) / period,
         rng.uniform(0, 2 * M_PI)};
  }
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      double t = 0;
      for (const auto& w : waves) t += w[0] * (1 + std::sin(w[1] * x + w[2] * y + w[3]));
      for (int c = 0; c < C; ++c) img[(static_cast<size_t>(y) * W + x) * C + c] = base[c] + static_cast<float>(t);
    }

  const int n = options_.min_shapes + static_cast<int>(rng.uniform_int(options_.max_shapes - options_.min_shapes + 1));
  for (int k = 0; k < n; ++k) {
    const DrawnShape shape = draw_shape(rng, options_.num_classes, H, W);
    const std::array<float, 3> colour = class_colour(shape.class_id, options_.num_classes, C);
    const int y0 = std::max(0, static_cast<int>(shape.cy - shape.extent));
    const int y1 = std::min(H, static_cast<int>(shape.cy + shape.extent) + 1);
    const int x0 = std::max(0, static_cast<int>(shape.cx - shape.extent));
    const int x1 = std::min(W, static_cast<int>(shape.cx + shape.extent) + 1);
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        if (!inside(shape, x + 0.5, y + 0.5)) continue;
        lab[static_cast<size_t>(y) * W + x] = static_cast<float>(shape.class_id);
        for (int c = 0; c < C; ++c) img[(static_cast<size_t>(y) * W + x) * C + c] = colour[c];
      }
  }

  for (int64_t i = 0; i < s.image.numel(); ++i)
    img[i] = std::clamp(img[i] + static_cast<float>(options_.noise * rng.normal()), 0.0f, 1.0f);
  return s;
}

}  // namespace tg::data
