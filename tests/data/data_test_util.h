// Helpers shared by the data tests: temporary folders and small image files made on the spot.
#pragma once
#include <doctest/doctest.h>
#include <stb/stb_image_write.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/data.h"
#include "tests/temp_dir.h"

namespace tg::testing {

namespace fs = std::filesystem;


// An 8-bit image file of any stb-writable format, chosen by the extension.
inline void write_image(const fs::path& path, int h, int w, int c, const std::vector<uint8_t>& px) {
  fs::create_directories(path.parent_path());
  REQUIRE(px.size() == static_cast<size_t>(h) * w * c);
  const std::string ext = path.extension().string();
  int ok = 0;
  if (ext == ".png") ok = stbi_write_png(path.c_str(), w, h, c, px.data(), w * c);
  else if (ext == ".bmp") ok = stbi_write_bmp(path.c_str(), w, h, c, px.data());
  else if (ext == ".tga") ok = stbi_write_tga(path.c_str(), w, h, c, px.data());
  else if (ext == ".jpg" || ext == ".jpeg") ok = stbi_write_jpg(path.c_str(), w, h, c, px.data(), 100);
  REQUIRE_MESSAGE(ok, "could not write test image " << path);
}

// A 16-bit PNG (stb_image_write has none): stored (uncompressed) deflate blocks inside zlib inside IDAT.
inline void write_png16(const fs::path& path, int h, int w, int c, const std::vector<uint16_t>& px) {
  fs::create_directories(path.parent_path());
  auto crc32 = [](const std::vector<uint8_t>& d) {
    uint32_t crc = 0xffffffffu;
    for (uint8_t b : d) {
      crc ^= b;
      for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xffffffffu;
  };
  auto be32 = [](std::vector<uint8_t>& v, uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
  };
  std::vector<uint8_t> raw;
  for (int y = 0; y < h; ++y) {
    raw.push_back(0);  // filter: none
    for (int i = 0; i < w * c; ++i) {
      const uint16_t v = px[static_cast<size_t>(y) * w * c + i];
      raw.push_back(static_cast<uint8_t>(v >> 8));
      raw.push_back(static_cast<uint8_t>(v));
    }
  }
  std::vector<uint8_t> z{0x78, 0x01};
  for (size_t pos = 0; pos < raw.size() || pos == 0;) {
    const size_t len = std::min<size_t>(65535, raw.size() - pos);
    const bool last = pos + len == raw.size();
    z.push_back(last ? 1 : 0);
    z.push_back(static_cast<uint8_t>(len));
    z.push_back(static_cast<uint8_t>(len >> 8));
    z.push_back(static_cast<uint8_t>(~len));
    z.push_back(static_cast<uint8_t>(~len >> 8));
    z.insert(z.end(), raw.begin() + pos, raw.begin() + pos + len);
    pos += len;
    if (last) break;
  }
  uint32_t a = 1, b = 0;
  for (uint8_t x : raw) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  be32(z, (b << 16) | a);
  std::vector<uint8_t> file{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto chunk = [&](const char* type, const std::vector<uint8_t>& data) {
    be32(file, static_cast<uint32_t>(data.size()));
    std::vector<uint8_t> td(type, type + 4);
    td.insert(td.end(), data.begin(), data.end());
    file.insert(file.end(), td.begin(), td.end());
    be32(file, crc32(td));
  };
  static const uint8_t kColourType[] = {0, 0, 4, 2, 6};
  std::vector<uint8_t> ihdr;
  be32(ihdr, static_cast<uint32_t>(w));
  be32(ihdr, static_cast<uint32_t>(h));
  ihdr.insert(ihdr.end(), {16, kColourType[c], 0, 0, 0});
  chunk("IHDR", ihdr);
  chunk("IDAT", z);
  chunk("IEND", {});
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
}

// A grey h x w image whose pixel (y, x) is f(y, x).
template <class F> std::vector<uint8_t> grey(int h, int w, F f) {
  std::vector<uint8_t> px(static_cast<size_t>(h) * w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) px[static_cast<size_t>(y) * w + x] = static_cast<uint8_t>(f(y, x));
  return px;
}

// DIR/<image_dir>/<stem>.png and DIR/<mask_dir>/<stem>.png: a gradient image and a 0/255 mask of its bright half.
inline void write_pair(const fs::path& root, const std::string& stem, int h = 8, int w = 8,
                       const std::string& image_dir = "images", const std::string& mask_dir = "masks") {
  write_image(root / image_dir / (stem + ".png"), h, w, 1, grey(h, w, [&](int y, int x) { return (y * w + x) * 255 / (h * w); }));
  write_image(root / mask_dir / (stem + ".png"), h, w, 1, grey(h, w, [&](int y, int x) { return y * w + x >= h * w / 2 ? 255 : 0; }));
}

// The membrane folder, or empty when this checkout has no ../shared.
inline fs::path membrane_dir() {
  const fs::path p = fs::path(TAPEGRAD_SHARED_DIR) / "datasets" / "membrane";
  return fs::is_directory(p / "train" / "image") ? p : fs::path();
}

// True when pred holds for every element (one assertion instead of one per pixel).
template <class R, class P> bool all(const R& range, P pred) {
  for (const auto& v : range)
    if (!pred(v)) return false;
  return true;
}

// Runs f and returns the message of the exception it throws (fails the test if it throws none).
template <class F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  FAIL("expected an exception");
  return "";
}

}  // namespace tg::testing
