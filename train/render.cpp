#include "train/render.h"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tg::train {

std::array<uint8_t, 3> class_colour(int class_id) {
  // Class 0 (background) is dark; the rest are well-separated hues (Tableau-like), repeating after 10.
  static constexpr std::array<std::array<uint8_t, 3>, 10> palette{{{30, 30, 30},
                                                                   {230, 80, 60},
                                                                   {60, 160, 230},
                                                                   {250, 200, 40},
                                                                   {90, 200, 100},
                                                                   {180, 100, 220},
                                                                   {250, 140, 30},
                                                                   {40, 200, 200},
                                                                   {240, 120, 180},
                                                                   {160, 160, 160}}};
  return palette[static_cast<size_t>(std::max(class_id, 0)) % palette.size()];
}

namespace {
uint8_t to_byte(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v * 255.0), 0L, 255L)); }

void check_image(const Tensor& image) {
  if (image.rank() != 3 || (image.dim(2) != 1 && image.dim(2) != 3))
    throw std::invalid_argument("expected an image [H, W, 1|3], got " + shape_str(image.shape()));
}
void check_classes(const Tensor& classes) {
  if (classes.rank() != 2) throw std::invalid_argument("expected a class map [H, W], got " + shape_str(classes.shape()));
}
}  // namespace

Picture picture_from_image(const Tensor& image) {
  check_image(image);
  Picture p{static_cast<int>(image.dim(1)), static_cast<int>(image.dim(0)), static_cast<int>(image.dim(2)), {}};
  p.pixels.resize(static_cast<size_t>(image.numel()));
  for (int64_t i = 0; i < image.numel(); ++i) p.pixels[i] = to_byte(image.flat(i));
  return p;
}

Picture picture_from_classes(const Tensor& classes) {
  check_classes(classes);
  Picture p{static_cast<int>(classes.dim(1)), static_cast<int>(classes.dim(0)), 3, {}};
  p.pixels.resize(static_cast<size_t>(classes.numel()) * 3);
  for (int64_t i = 0; i < classes.numel(); ++i) {
    const auto c = class_colour(static_cast<int>(classes.flat(i)));
    std::copy(c.begin(), c.end(), p.pixels.begin() + i * 3);
  }
  return p;
}

Picture grey_from_classes(const Tensor& classes, int num_classes, bool raw) {
  check_classes(classes);
  Picture p{static_cast<int>(classes.dim(1)), static_cast<int>(classes.dim(0)), 1, {}};
  p.pixels.resize(static_cast<size_t>(classes.numel()));
  const double step = num_classes > 1 ? 255.0 / (num_classes - 1) : 255.0;
  for (int64_t i = 0; i < classes.numel(); ++i) {
    const double k = classes.flat(i);
    p.pixels[i] = raw ? static_cast<uint8_t>(std::clamp(k, 0.0, 255.0)) : static_cast<uint8_t>(std::lround(k * step));
  }
  return p;
}

Picture overlay(const Tensor& image, const Tensor& classes) {
  check_image(image);
  check_classes(classes);
  if (image.dim(0) != classes.dim(0) || image.dim(1) != classes.dim(1))
    throw std::invalid_argument("overlay: image " + shape_str(image.shape()) + " and class map " +
                                shape_str(classes.shape()) + " differ in size");
  constexpr double alpha = 0.45;
  const int64_t pixels = classes.numel(), c = image.dim(2);
  Picture p{static_cast<int>(image.dim(1)), static_cast<int>(image.dim(0)), 3, {}};
  p.pixels.resize(static_cast<size_t>(pixels) * 3);
  for (int64_t i = 0; i < pixels; ++i) {
    const int k = static_cast<int>(classes.flat(i));
    const auto colour = class_colour(k);
    for (int ch = 0; ch < 3; ++ch) {
      const double v = image.flat(i * c + (c == 3 ? ch : 0));
      p.pixels[i * 3 + ch] = k == 0 ? to_byte(v) : to_byte((1 - alpha) * v + alpha * colour[ch] / 255.0);
    }
  }
  return p;
}

std::string encode_png(const Picture& p) {
  std::string out;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  if (!stbi_write_png_to_func(append, &out, p.width, p.height, p.channels, p.pixels.data(), p.width * p.channels))
    throw std::runtime_error("PNG encoding failed for a " + std::to_string(p.width) + "x" + std::to_string(p.height) +
                             " picture");
  return out;
}

void write_png(const std::string& path, const Picture& p) {
  if (!stbi_write_png(path.c_str(), p.width, p.height, p.channels, p.pixels.data(), p.width * p.channels))
    throw std::runtime_error(path + ": cannot write PNG");
}

std::string base64(const std::string& bytes) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += table[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= uint8_t(bytes[i + 1]) << 8;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? table[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string png_data_uri(const Picture& p) { return "data:image/png;base64," + base64(encode_png(p)); }

}  // namespace tg::train
