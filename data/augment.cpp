#include "data/augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "data/resize.h"

namespace tg::data {

namespace {

constexpr double kDegToRad = M_PI / 180.0;

// The source index for coordinate i on an axis of n pixels, or -1 for "use the constant".
int resolve(int i, int n, FillMode mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case FillMode::Nearest: return std::clamp(i, 0, n - 1);
    case FillMode::Reflect: return mirrored_index(i, n);
    case FillMode::Constant: return -1;
  }
  return -1;
}

// Output -> input map: src = A * (dst - centre) + centre + shift, in (x = column, y = row) coordinates.
struct Affine {
  double a00 = 1, a01 = 0, a10 = 0, a11 = 1, tx = 0, ty = 0;
};

Affine draw_affine(const AugmentOptions& o, int H, int W, Rng& rng) {
  const double theta = o.rotation_deg > 0 ? rng.uniform(-o.rotation_deg, o.rotation_deg) * kDegToRad : 0.0;
  const double shear = o.shear_deg > 0 ? rng.uniform(-o.shear_deg, o.shear_deg) * kDegToRad : 0.0;
  const double zx = o.zoom > 0 ? rng.uniform(1 - o.zoom, 1 + o.zoom) : 1.0;
  const double zy = o.zoom > 0 ? rng.uniform(1 - o.zoom, 1 + o.zoom) : 1.0;
  const double tx = o.width_shift > 0 ? rng.uniform(-o.width_shift, o.width_shift) * W : 0.0;
  const double ty = o.height_shift > 0 ? rng.uniform(-o.height_shift, o.height_shift) * H : 0.0;
  // rotation * shear * zoom, as Keras composes them
  const double c = std::cos(theta), s = std::sin(theta);
  const double s00 = zx, s01 = -std::sin(shear) * zy, s10 = 0, s11 = std::cos(shear) * zy;
  return {c * s00 - s * s10, c * s01 - s * s11, s * s00 + c * s10, s * s01 + c * s11, tx, ty};
}

// Resamples image (bilinear, or nearest with interpolation_order 0) and labels (nearest) through the output ->
// input map `source(x, y, &sx, &sy)`, each source coordinate outside the image resolved by the fill mode.
template <class SourceMap>
void remap(Sample& s, const SourceMap& source, const AugmentOptions& o) {
  const int H = static_cast<int>(s.image.dim(0)), W = static_cast<int>(s.image.dim(1));
  const int C = static_cast<int>(s.image.dim(2));
  Tensor image({H, W, C}), labels({H, W}), weights;
  const float* src = s.image.data<float>();
  const float* lab = s.labels.data<float>();
  const float* wts = s.weights.defined() ? s.weights.data<float>() : nullptr;
  if (wts) weights = Tensor::empty({H, W});
  float* out = image.data<float>();
  float* out_lab = labels.data<float>();
  float* out_wts = wts ? weights.data<float>() : nullptr;
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      double sx = 0, sy = 0;
      source(x, y, &sx, &sy);
      // labels: the nearest source pixel
      const int nx = resolve(static_cast<int>(std::lround(sx)), W, o.fill_mode);
      const int ny = resolve(static_cast<int>(std::lround(sy)), H, o.fill_mode);
      out_lab[static_cast<size_t>(y) * W + x] =
          nx < 0 || ny < 0 ? o.mask_fill_value : lab[static_cast<size_t>(ny) * W + nx];
      if (wts) out_wts[static_cast<size_t>(y) * W + x] = nx < 0 || ny < 0 ? 1.0f : wts[static_cast<size_t>(ny) * W + nx];
      float* px = out + (static_cast<size_t>(y) * W + x) * C;
      if (o.interpolation_order == 0) {  // the labels' own source pixel
        for (int c = 0; c < C; ++c) px[c] = nx < 0 || ny < 0 ? o.fill_value : src[(static_cast<size_t>(ny) * W + nx) * C + c];
        continue;
      }
      // image: bilinear over the four neighbours, each resolved by the fill mode
      const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
      const float fx = static_cast<float>(sx - x0), fy = static_cast<float>(sy - y0);
      const int xs[2] = {resolve(x0, W, o.fill_mode), resolve(x0 + 1, W, o.fill_mode)};
      const int ys[2] = {resolve(y0, H, o.fill_mode), resolve(y0 + 1, H, o.fill_mode)};
      for (int c = 0; c < C; ++c) {
        auto tap = [&](int iy, int ix) {
          return ys[iy] < 0 || xs[ix] < 0 ? o.fill_value : src[(static_cast<size_t>(ys[iy]) * W + xs[ix]) * C + c];
        };
        const float top = tap(0, 0) + fx * (tap(0, 1) - tap(0, 0));
        const float bottom = tap(1, 0) + fx * (tap(1, 1) - tap(1, 0));
        px[c] = top + fy * (bottom - top);
      }
    }
  }
  s.image = std::move(image);
  s.labels = std::move(labels);
  if (wts) s.weights = std::move(weights);
}

void apply_affine(Sample& s, const Affine& m, const AugmentOptions& o) {
  const double cy = (s.image.dim(0) - 1) / 2.0, cx = (s.image.dim(1) - 1) / 2.0;
  remap(
      s,
      [&](int x, int y, double* sx, double* sy) {
        *sx = m.a00 * (x - cx) + m.a01 * (y - cy) + cx + m.tx;
        *sy = m.a10 * (x - cx) + m.a11 * (y - cy) + cy + m.ty;
      },
      o);
}

// Keys's cubic convolution weights (a = -0.5, Catmull-Rom) for the four nodes around fraction t.
std::array<double, 4> cubic_weights(double t) {
  auto w = [](double d) {
    d = std::abs(d);
    return d <= 1 ? (1.5 * d - 2.5) * d * d + 1 : d < 2 ? ((-0.5 * d + 2.5) * d - 4) * d + 2 : 0.0;
  };
  return {w(1 + t), w(t), w(1 - t), w(2 - t)};
}

// Per pixel along an axis of n pixels: the four grid nodes (clamped to the grid) and their bicubic weights, for a
// grid of g nodes whose first and last sit on the first and last pixel.
struct AxisTaps {
  std::vector<std::array<int, 4>> node;
  std::vector<std::array<double, 4>> weight;
};
AxisTaps axis_taps(int n, int g) {
  AxisTaps taps;
  for (int i = 0; i < n; ++i) {
    const double u = n > 1 ? double(i) * (g - 1) / (n - 1) : 0.0;
    const int k = std::min(static_cast<int>(u), g - 2);
    taps.weight.push_back(cubic_weights(u - k));
    taps.node.push_back({std::clamp(k - 1, 0, g - 1), k, k + 1, std::clamp(k + 2, 0, g - 1)});
  }
  return taps;
}

void apply_elastic(Sample& s, const AugmentOptions& o, Rng& rng) {
  const int H = static_cast<int>(s.image.dim(0)), W = static_cast<int>(s.image.dim(1)), g = o.elastic_grid;
  std::vector<double> dx(size_t(g) * g), dy(size_t(g) * g);
  for (size_t i = 0; i < dx.size(); ++i) {
    dx[i] = o.elastic_sigma * rng.normal();
    dy[i] = o.elastic_sigma * rng.normal();
  }
  const AxisTaps rows = axis_taps(H, g), cols = axis_taps(W, g);
  remap(
      s,
      [&](int x, int y, double* sx, double* sy) {
        double ddx = 0, ddy = 0;
        for (int j = 0; j < 4; ++j)
          for (int k = 0; k < 4; ++k) {
            const double w = rows.weight[y][j] * cols.weight[x][k];
            const size_t node = size_t(rows.node[y][j]) * g + cols.node[x][k];
            ddx += w * dx[node];
            ddy += w * dy[node];
          }
        *sx = x + ddx;
        *sy = y + ddy;
      },
      o);
}

// Reverses rows (vertical) or columns (horizontal) of an [H, W, C] or [H, W] tensor in place.
void flip(Tensor& t, bool vertical) {
  const int H = static_cast<int>(t.dim(0)), W = static_cast<int>(t.dim(1));
  const int C = t.rank() == 3 ? static_cast<int>(t.dim(2)) : 1;
  float* p = t.data<float>();
  if (vertical) {
    for (int y = 0; y < H / 2; ++y)
      std::swap_ranges(p + static_cast<size_t>(y) * W * C, p + static_cast<size_t>(y + 1) * W * C,
                       p + static_cast<size_t>(H - 1 - y) * W * C);
    return;
  }
  for (int y = 0; y < H; ++y) {
    float* row = p + static_cast<size_t>(y) * W * C;
    for (int x = 0; x < W / 2; ++x)
      std::swap_ranges(row + x * C, row + (x + 1) * C, row + static_cast<size_t>(W - 1 - x) * C);
  }
}

// Rotation by 90 degrees counter-clockwise (square tensors): out[y][x] = in[x][W - 1 - y].
Tensor rot90(const Tensor& t) {
  const int N = static_cast<int>(t.dim(0));
  const int C = t.rank() == 3 ? static_cast<int>(t.dim(2)) : 1;
  Tensor out(t.shape());
  const float* src = t.data<float>();
  float* dst = out.data<float>();
  for (int y = 0; y < N; ++y)
    for (int x = 0; x < N; ++x)
      std::copy_n(src + (static_cast<size_t>(x) * N + (N - 1 - y)) * C, C, dst + (static_cast<size_t>(y) * N + x) * C);
  return out;
}

void jitter_colour(Tensor& image, const AugmentOptions& o, Rng& rng) {
  const float delta = o.brightness > 0 ? static_cast<float>(rng.uniform(-o.brightness, o.brightness)) : 0.0f;
  const float factor = o.contrast > 0 ? static_cast<float>(rng.uniform(1 - o.contrast, 1 + o.contrast)) : 1.0f;
  const int C = static_cast<int>(image.dim(2));
  const int64_t pixels = image.numel() / C;
  float* p = image.data<float>();
  std::vector<double> mean(C, 0.0);
  for (int64_t i = 0; i < pixels; ++i)
    for (int c = 0; c < C; ++c) mean[c] += p[i * C + c];
  for (double& m : mean) m /= static_cast<double>(pixels);
  for (int64_t i = 0; i < pixels; ++i)
    for (int c = 0; c < C; ++c) {
      const float m = static_cast<float>(mean[c]);
      p[i * C + c] = std::clamp((p[i * C + c] - m) * factor + m + delta, 0.0f, 1.0f);
    }
}

void apply_gamma(Tensor& image, double amplitude, Rng& rng) {
  const double span = std::log1p(amplitude);
  const float g = static_cast<float>(std::exp(rng.uniform(-span, span)));
  for (float& v : image.span<float>()) v = std::pow(std::max(v, 0.0f), g);
}

// Separable Gaussian blur of the [H, W, C] image, borders reflected (d c b a | a b c d).
void apply_blur(Tensor& image, double max_sigma, Rng& rng) {
  const double sigma = rng.uniform(0.0, max_sigma);
  if (sigma < 0.2) return;  // the kernel would be a delta to float precision
  const int radius = static_cast<int>(std::ceil(3 * sigma));
  std::vector<float> kernel(size_t(2 * radius + 1));
  double total = 0;
  for (int i = -radius; i <= radius; ++i) total += kernel[size_t(i + radius)] = float(std::exp(-0.5 * i * i / (sigma * sigma)));
  for (float& k : kernel) k = static_cast<float>(k / total);
  const int H = static_cast<int>(image.dim(0)), W = static_cast<int>(image.dim(1)), C = static_cast<int>(image.dim(2));
  Tensor pass(image.shape());
  for (int axis = 0; axis < 2; ++axis) {
    const float* src = axis == 0 ? image.data<float>() : pass.data<float>();
    float* dst = axis == 0 ? pass.data<float>() : image.data<float>();
    const int n = axis == 0 ? W : H;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        for (int c = 0; c < C; ++c) {
          float acc = 0;
          for (int i = -radius; i <= radius; ++i) {
            const int j = resolve((axis == 0 ? x : y) + i, n, FillMode::Reflect);
            const int sx = axis == 0 ? j : x, sy = axis == 0 ? y : j;
            acc += kernel[size_t(i + radius)] * src[(size_t(sy) * W + sx) * C + c];
          }
          dst[(size_t(y) * W + x) * C + c] = acc;
        }
  }
}

void apply_noise(Tensor& image, double max_std, Rng& rng) {
  const double std = rng.uniform(0.0, max_std);
  for (float& v : image.span<float>()) v = std::clamp(v + static_cast<float>(std * rng.normal()), 0.0f, 1.0f);
}

}  // namespace

AugmentOptions AugmentOptions::unet_paper() {
  AugmentOptions o;
  o.horizontal_flip = o.vertical_flip = o.rotate90 = true;
  o.elastic_sigma = 10.0;
  o.elastic_grid = 3;
  o.fill_mode = FillMode::Reflect;
  return o;
}

AugmentOptions AugmentOptions::strong() {
  AugmentOptions o = unet_paper();
  o.rotation_deg = 180.0;
  o.zoom = 0.15;
  o.shear_deg = 10.0;
  o.brightness = o.contrast = 0.1;
  o.gamma = 0.3;
  o.blur_sigma = 1.0;
  o.noise_std = 0.03;
  return o;
}

AugmentOptions AugmentOptions::keras_membrane() {
  AugmentOptions o;
  o.rotation_deg = 0.2;
  o.width_shift = o.height_shift = 0.05;
  o.shear_deg = 0.05;
  o.zoom = 0.05;
  o.horizontal_flip = true;
  o.fill_mode = FillMode::Nearest;
  return o;
}

bool AugmentOptions::any() const {
  return horizontal_flip || vertical_flip || rotate90 || crop_scale < 1.0 || brightness > 0 || contrast > 0 ||
         rotation_deg > 0 || width_shift > 0 || height_shift > 0 || shear_deg > 0 || zoom > 0 || elastic_sigma > 0 ||
         gamma > 0 || blur_sigma > 0 || noise_std > 0;
}

void AugmentOptions::validate() const {
  if (crop_scale <= 0.0 || crop_scale > 1.0)
    throw std::invalid_argument("augment: crop_scale must be in (0, 1], got " + std::to_string(crop_scale));
  if (elastic_sigma > 0 && (elastic_grid < 2 || elastic_grid > 64))
    throw std::invalid_argument("augment: elastic_grid must be in [2, 64], got " + std::to_string(elastic_grid));
  for (const auto& [name, value] :
       {std::pair{"brightness", brightness}, {"contrast", contrast}, {"rotation_deg", rotation_deg},
        {"width_shift", width_shift}, {"height_shift", height_shift}, {"shear_deg", shear_deg}, {"zoom", zoom},
        {"elastic_sigma", elastic_sigma}, {"gamma", gamma}, {"blur_sigma", blur_sigma}, {"noise_std", noise_std}})
    if (!(value >= 0.0 && value <= 1000.0))
      throw std::invalid_argument(std::string("augment: ") + name + " must be in [0, 1000], got " + std::to_string(value));
  if (blur_sigma > 20.0)  // the kernel spans 6 sigma: wider ones cost more than the step they feed
    throw std::invalid_argument("augment: blur_sigma must be in [0, 20], got " + std::to_string(blur_sigma));
  if (zoom >= 1.0) throw std::invalid_argument("augment: zoom must be below 1, got " + std::to_string(zoom));
  if (interpolation_order != 0 && interpolation_order != 1)
    throw std::invalid_argument("augment: interpolation_order must be 0 (nearest) or 1 (bilinear), got " +
                                std::to_string(interpolation_order));
}

namespace {
// The per-pixel maps that move with the labels (nearest neighbour): the labels and, when present, the weights.
std::vector<Tensor*> label_maps(Sample& s) {
  if (s.weights.defined()) return {&s.labels, &s.weights};
  return {&s.labels};
}
}  // namespace

void augment(Sample& s, const AugmentOptions& o, Rng& rng) {
  if (s.image.rank() != 3 || s.labels.rank() != 2 || s.image.dim(0) != s.labels.dim(0) ||
      s.image.dim(1) != s.labels.dim(1))
    throw std::invalid_argument("augment: image " + shape_str(s.image.shape()) + " and labels " +
                                shape_str(s.labels.shape()) + " must be [H, W, C] and [H, W]");
  if (s.weights.defined() && s.weights.shape() != s.labels.shape())
    throw std::invalid_argument("augment: weights " + shape_str(s.weights.shape()) + " must match the labels " +
                                shape_str(s.labels.shape()));
  o.validate();
  const int H = static_cast<int>(s.image.dim(0)), W = static_cast<int>(s.image.dim(1));

  if (o.crop_scale < 1.0) {
    const double f = rng.uniform(o.crop_scale, 1.0);
    const int h = std::max(1, static_cast<int>(std::lround(f * H))), w = std::max(1, static_cast<int>(std::lround(f * W)));
    const int top = static_cast<int>(rng.uniform_int(H - h + 1)), left = static_cast<int>(rng.uniform_int(W - w + 1));
    const Tensor cropped = crop(s.image, top, left, h, w);
    s.image = o.interpolation_order == 0 ? resize_nearest(cropped, H, W) : resize_bilinear(cropped, H, W);
    for (Tensor* map : label_maps(s)) *map = resize_nearest(crop(*map, top, left, h, w), H, W);
  }
  if (o.rotation_deg > 0 || o.width_shift > 0 || o.height_shift > 0 || o.shear_deg > 0 || o.zoom > 0)
    apply_affine(s, draw_affine(o, H, W, rng), o);
  if (o.elastic_sigma > 0) apply_elastic(s, o, rng);
  if (o.horizontal_flip && rng.uniform() < 0.5) {
    flip(s.image, false);
    for (Tensor* map : label_maps(s)) flip(*map, false);
  }
  if (o.vertical_flip && rng.uniform() < 0.5) {
    flip(s.image, true);
    for (Tensor* map : label_maps(s)) flip(*map, true);
  }
  if (o.rotate90) {
    const int k = H == W ? static_cast<int>(rng.uniform_int(4)) : 2 * static_cast<int>(rng.uniform_int(2));
    if (k == 2) {  // two flips are a half turn, and work for any shape
      for (bool vertical : {false, true}) {
        flip(s.image, vertical);
        for (Tensor* map : label_maps(s)) flip(*map, vertical);
      }
    } else {
      for (int i = 0; i < k; ++i) {
        s.image = rot90(s.image);
        for (Tensor* map : label_maps(s)) *map = rot90(*map);
      }
    }
  }
  if (o.brightness > 0 || o.contrast > 0) jitter_colour(s.image, o, rng);
  if (o.gamma > 0) apply_gamma(s.image, o.gamma, rng);
  if (o.blur_sigma > 0) apply_blur(s.image, o.blur_sigma, rng);
  if (o.noise_std > 0) apply_noise(s.image, o.noise_std, rng);
}

}  // namespace tg::data
