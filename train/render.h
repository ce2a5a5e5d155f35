// Turning images and class maps into pictures: colour palettes, overlays, PNG bytes and data URIs.
// Shared by `tapegrad predict` (mask and overlay files) and the HTML report (sample grid).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace tg::train {

// An 8-bit picture, row-major, interleaved channels (1 = grey, 3 = RGB).
struct Picture {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

std::array<uint8_t, 3> class_colour(int class_id);

// image [H, W, C] with values in [0, 1] (C = 1 or 3) -> grey or RGB picture.
Picture picture_from_image(const Tensor& image);
// class map [H, W] -> RGB picture in the class palette.
Picture picture_from_classes(const Tensor& classes);
// class map [H, W] -> grey picture with class k at round(k * 255 / (num_classes - 1)) (raw = class id itself).
Picture grey_from_classes(const Tensor& classes, int num_classes, bool raw);
// image tinted by the class colours where the class is not 0 (background), alpha = 0.45.
Picture overlay(const Tensor& image, const Tensor& classes);

std::string encode_png(const Picture& p);
void write_png(const std::string& path, const Picture& p);  // throws naming the path on failure
std::string base64(const std::string& bytes);
std::string png_data_uri(const Picture& p);

}  // namespace tg::train
