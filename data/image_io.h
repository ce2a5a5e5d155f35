// Reading and writing image files through stb_image: PNG, JPEG, BMP, TGA (8- and 16-bit; grey, grey+alpha,
// RGB, RGBA). Pixels stay raw (0..255 or 0..65535) so that masks keep their exact values; images are scaled
// to [0, 1] later.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "autograd/tensor.h"

namespace tg::data {

struct RawImage {
  int height = 0, width = 0, channels = 0;  // channels as stored in the file: 1..4
  int max_value = 255;                      // 255 for 8-bit files, 65535 for 16-bit PNGs
  std::vector<float> pixels;                // HWC, raw values (exact as floats: integers below 2^24)

  float at(int y, int x, int c) const {
    return pixels[(static_cast<size_t>(y) * width + x) * channels + c];
  }
};

struct ImageInfo {
  int height = 0, width = 0, channels = 0;
  bool sixteen_bit = false;
};

// What a file may claim before anything is decoded or allocated for it: a 100 KB PNG can declare 20000x20000 pixels
// (a decompression bomb), and a path may name a FIFO or /dev/zero. Process-wide; the command line's
// --max-image-pixels raises the pixel cap.
struct ImageLimits {
  int64_t max_pixels = int64_t{8192} * 8192;  // the largest --size, as one image: 64 megapixels
  int64_t max_file_bytes = int64_t{1} << 30;  // 1 GiB (and never above 2 GiB: stb_image takes an int length)
};
void set_image_limits(const ImageLimits& limits);
ImageLimits image_limits();

// File extensions (lower case, with the dot) that read_image understands.
bool is_image_extension(const std::filesystem::path& path);

// Header only: size and channel count. Throws DataError naming the file when it cannot be read or recognised, is not
// a regular file, or is over the limits.
ImageInfo probe_image(const std::filesystem::path& path);

// Decodes the whole file. Throws DataError naming the file (missing, not a regular file, unreadable, truncated,
// unknown format, over the limits: checked from the header before decoding).
RawImage read_image(const std::filesystem::path& path);

// [H, W, channels] float32 in [0, 1] from a decoded file (channels 1 or 3): grey is repeated for colour models,
// alpha is dropped, and a colour file feeds a 1-channel model only when it is grey stored as RGB (otherwise a
// DataError naming `file`). Shared by the folder dataset and `tapegrad predict`.
Tensor image_tensor(const RawImage& raw, int channels, const std::filesystem::path& file);

// 8-bit PNG of `channels` (1..4) interleaved channels. Throws DataError when the file cannot be written.
void write_png(const std::filesystem::path& path, int height, int width, int channels,
               std::span<const uint8_t> pixels);

}  // namespace tg::data
