#include "data/image_io.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <climits>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "data/data_error.h"

namespace tg::data {

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

std::atomic<int64_t> g_max_pixels{ImageLimits{}.max_pixels};
std::atomic<int64_t> g_max_file_bytes{ImageLimits{}.max_file_bytes};

// Only regular files within the size limit are opened: a FIFO would block and a device never ends.
File open_for_reading(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    throw DataError(path, "is not a regular file (a folder, device or pipe); images must be files");
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) throw DataError(path, std::string("cannot be opened: ") + std::strerror(errno));
  const auto size = std::filesystem::file_size(path, ec);
  const int64_t max_bytes = g_max_file_bytes.load();
  if (!ec && size > static_cast<uintmax_t>(max_bytes))
    throw DataError(path, "is " + std::to_string(size) + " bytes, more than the " + std::to_string(max_bytes) +
                              " bytes an image file may be");
  return f;
}

std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
  File f = open_for_reading(path);
  std::vector<uint8_t> bytes;
  uint8_t buffer[1 << 16];
  size_t got = 0;
  const auto max_bytes = static_cast<size_t>(g_max_file_bytes.load());
  while ((got = std::fread(buffer, 1, sizeof buffer, f.get())) > 0) {
    bytes.insert(bytes.end(), buffer, buffer + got);
    if (bytes.size() > max_bytes) throw DataError(path, "grew past the size limit while being read");
  }
  if (std::ferror(f.get())) throw DataError(path, "could not be read (I/O error)");
  if (bytes.empty()) throw DataError(path, "is empty (0 bytes)");
  return bytes;
}

std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown reason";
}

// stb_image grows its buffer to the length a PNG chunk declares before it reads the chunk: a 76-byte file whose IDAT
// chunk claims 2 GB made it allocate 2 GB (fuzz/image_fuzz.cpp). So every chunk must fit in the file first.
void check_png_chunks(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  static constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < 8 || !std::equal(kSignature, kSignature + 8, bytes.begin())) return;
  for (size_t at = 8; at + 8 <= bytes.size();) {
    const uint64_t length = uint64_t{bytes[at]} << 24 | uint64_t{bytes[at + 1]} << 16 | uint64_t{bytes[at + 2]} << 8 |
                            uint64_t{bytes[at + 3]};
    std::string type(reinterpret_cast<const char*>(&bytes[at + 4]), 4);
    if (!std::all_of(type.begin(), type.end(), [](unsigned char c) { return std::isalpha(c); })) type = "?";
    const uint64_t left = bytes.size() - at - 8;  // the chunk's data and its 4-byte CRC
    if (length + 4 > left)
      throw DataError(path, "is a truncated or corrupt PNG: its '" + type + "' chunk declares " +
                                std::to_string(length) + " bytes but the file holds " + std::to_string(left) +
                                " more (with the checksum)");
    if (type == "IEND") return;
    at += 12 + length;
  }
}

void check_pixel_count(const std::filesystem::path& path, int width, int height) {
  const int64_t pixels = int64_t{width} * height, cap = g_max_pixels.load();
  if (pixels > cap)
    throw DataError(path, "declares " + std::to_string(width) + "x" + std::to_string(height) + " pixels (" +
                              std::to_string(pixels / 1'000'000) + " megapixels), more than the limit of " +
                              std::to_string(cap / 1'000'000) +
                              "; if the image is real, raise the limit with --max-image-pixels");
}

}  // namespace

void set_image_limits(const ImageLimits& limits) {
  if (limits.max_pixels < 1 || limits.max_file_bytes < 1)
    throw std::invalid_argument("set_image_limits: limits must be positive");
  g_max_pixels = limits.max_pixels;
  g_max_file_bytes = std::min<int64_t>(limits.max_file_bytes, INT_MAX);
}

ImageLimits image_limits() { return {g_max_pixels.load(), g_max_file_bytes.load()}; }

bool is_image_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".tga";
}

ImageInfo probe_image(const std::filesystem::path& path) {
  File f = open_for_reading(path);
  ImageInfo info;
  if (!stbi_info_from_file(f.get(), &info.width, &info.height, &info.channels))
    throw DataError(path, "is not a readable PNG/JPEG/BMP/TGA image (stb_image: " + stb_reason() + ")");
  check_pixel_count(path, info.width, info.height);
  std::fseek(f.get(), 0, SEEK_SET);
  info.sixteen_bit = stbi_is_16_bit_from_file(f.get()) != 0;
  return info;
}

RawImage read_image(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_bytes(path);
  const int len = static_cast<int>(bytes.size());
  check_png_chunks(path, bytes);
  RawImage img;
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_memory(bytes.data(), len, &width, &height, &channels))
    throw DataError(path, "could not be decoded: truncated, corrupt or not a PNG/JPEG/BMP/TGA image (stb_image: " +
                              stb_reason() + ")");
  check_pixel_count(path, width, height);
  const bool sixteen = stbi_is_16_bit_from_memory(bytes.data(), len) != 0;
  // Decoding into a typed buffer and widening to float keeps one code path for 8 and 16 bits.
  auto decode = [&]<class T>(T* pixels) {
    if (!pixels)
      throw DataError(path, "could not be decoded: truncated, corrupt or not a PNG/JPEG/BMP/TGA image (stb_image: " +
                                stb_reason() + ")");
    std::unique_ptr<T, void (*)(void*)> owner(pixels, stbi_image_free);
    const size_t n = static_cast<size_t>(img.width) * img.height * img.channels;
    img.pixels.assign(pixels, pixels + n);
  };
  if (sixteen) {
    decode(stbi_load_16_from_memory(bytes.data(), len, &img.width, &img.height, &img.channels, 0));
    img.max_value = 65535;
  } else {
    decode(stbi_load_from_memory(bytes.data(), len, &img.width, &img.height, &img.channels, 0));
  }
  if (img.channels < 1 || img.channels > 4)
    throw DataError(path, "has " + std::to_string(img.channels) + " channels; only 1 to 4 are supported");
  return img;
}

Tensor image_tensor(const RawImage& raw, int channels, const std::filesystem::path& file) {
  if (channels != 1 && channels != 3)
    throw std::invalid_argument("image_tensor: channels must be 1 or 3, got " + std::to_string(channels));
  const int H = raw.height, W = raw.width;
  const bool colour = raw.channels >= 3;
  Tensor t({H, W, channels});
  float* out = t.data<float>();
  const float scale = 1.0f / static_cast<float>(raw.max_value);
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      float* o = out + (static_cast<size_t>(y) * W + x) * channels;
      const float r = raw.at(y, x, 0);
      const float g = colour ? raw.at(y, x, 1) : r, b = colour ? raw.at(y, x, 2) : r;
      if (channels == 1) {
        if (g != r || b != r)
          throw DataError(file, "is a colour image (pixel (x=" + std::to_string(x) + ", y=" + std::to_string(y) +
                                    ") differs between channels), but the model takes 1 channel: set channels "
                                    "to 3 or convert the images to greyscale");
        o[0] = r * scale;
      } else {
        o[0] = r * scale;
        o[1] = g * scale;
        o[2] = b * scale;
      }
    }
  }
  return t;
}

void write_png(const std::filesystem::path& path, int height, int width, int channels,
               std::span<const uint8_t> pixels) {
  if (pixels.size() != static_cast<size_t>(height) * width * channels)
    throw DataError(path, "write_png: pixel count does not match " + std::to_string(height) + "x" +
                              std::to_string(width) + "x" + std::to_string(channels));
  if (!stbi_write_png(path.c_str(), width, height, channels, pixels.data(), width * channels))
    throw DataError(path, "could not be written (check that the folder exists and is writable)");
}

}  // namespace tg::data
