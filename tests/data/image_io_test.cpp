#include "data_test_util.h"

#include <sys/stat.h>

using namespace tg::data;
using tg::testing::TempDir;

namespace {
void be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

// A PNG's signature and IHDR chunk for a grey image of `bit_depth` bits, its CRC zero (stb_image skips CRCs).
std::string png_header(uint32_t width, uint32_t height, char bit_depth) {
  std::string png = "\x89PNG\r\n\x1a\n";
  be32(png, 13);
  png += "IHDR";
  be32(png, width);
  be32(png, height);
  png += bit_depth;
  png += std::string(4, '\0');  // grey, deflate, no filter method, no interlacing
  be32(png, 0);
  return png;
}
}  // namespace

TEST_CASE("image_io: PNG in every channel layout keeps raw values") {
  TempDir tmp;
  for (int c = 1; c <= 4; ++c) {
    std::vector<uint8_t> px(3 * 5 * c);
    for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 7 + c);
    const auto file = tmp / ("c" + std::to_string(c) + ".png");
    tg::testing::write_image(file, 3, 5, c, px);
    const ImageInfo info = probe_image(file);
    CHECK(info.height == 3);
    CHECK(info.width == 5);
    CHECK(info.channels == c);
    CHECK_FALSE(info.sixteen_bit);
    const RawImage img = read_image(file);
    CHECK(img.channels == c);
    CHECK(img.max_value == 255);
    REQUIRE(img.pixels.size() == px.size());
    for (size_t i = 0; i < px.size(); ++i) CHECK(img.pixels[i] == px[i]);
  }
}

TEST_CASE("image_io: 16-bit PNG keeps full precision") {
  TempDir tmp;
  const std::vector<uint16_t> px{0, 1, 255, 256, 1000, 40000, 65534, 65535};
  tg::testing::write_png16(tmp / "g16.png", 2, 4, 1, px);
  CHECK(probe_image(tmp / "g16.png").sixteen_bit);
  const RawImage img = read_image(tmp / "g16.png");
  CHECK(img.max_value == 65535);
  for (size_t i = 0; i < px.size(); ++i) CHECK(img.pixels[i] == px[i]);
}

TEST_CASE("image_io: BMP and TGA are lossless, JPEG close") {
  TempDir tmp;
  const auto px = tg::testing::grey(8, 8, [](int y, int x) { return 16 * y + x; });
  for (const char* ext : {".bmp", ".tga", ".jpg"}) {
    CAPTURE(ext);
    const auto file = tmp / (std::string("g") + ext);
    tg::testing::write_image(file, 8, 8, 1, px);
    const RawImage img = read_image(file);
    CHECK(img.height == 8);
    CHECK(img.width == 8);
    float worst = 0;
    for (size_t i = 0; i < px.size(); ++i) worst = std::max(worst, std::abs(img.pixels[i * img.channels] - px[i]));
    CHECK(worst <= (std::string(ext) == ".jpg" ? 8.0f : 0.0f));
  }
}

TEST_CASE("image_io: unreadable, empty, truncated and missing files name the file") {
  TempDir tmp;
  std::ofstream(tmp / "garbage.png") << "this is not an image at all";
  std::ofstream(tmp / "empty.png");
  tg::testing::write_image(tmp / "whole.png", 32, 32, 1, tg::testing::grey(32, 32, [](int y, int x) { return x ^ y; }));
  const auto whole = tmp / "whole.png";
  const auto size = std::filesystem::file_size(whole);
  std::filesystem::copy_file(whole, tmp / "cut.png");
  std::filesystem::resize_file(tmp / "cut.png", size / 2);

  for (const char* name : {"garbage.png", "empty.png", "cut.png", "missing.png"}) {
    CAPTURE(name);
    const std::string msg = tg::testing::error_of([&] { read_image(tmp / name); });
    CHECK(msg.find(name) != std::string::npos);
  }
  CHECK(tg::testing::error_of([&] { probe_image(tmp / "garbage.png"); }).find("not a readable") != std::string::npos);
  CHECK(tg::testing::error_of([&] { read_image(tmp / "cut.png"); }).find("truncated") != std::string::npos);
}

TEST_CASE("image_io: a header declaring too many pixels is refused before decoding and the limit can be raised") {
  TempDir tmp;
  // A 57-byte PNG whose header claims 20000x20000 grey pixels (400 MB decoded).
  std::string png = png_header(20000, 20000, 8);
  be32(png, 0);
  png += "IEND";
  be32(png, 0);
  std::ofstream(tmp / "bomb.png", std::ios::binary) << png;
  for (const std::string& msg : {tg::testing::error_of([&] { read_image(tmp / "bomb.png"); }),
                                 tg::testing::error_of([&] { probe_image(tmp / "bomb.png"); })}) {
    CHECK_MESSAGE(msg.find("bomb.png") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("declares 20000x20000 pixels") != std::string::npos, msg);
    CHECK_MESSAGE(msg.find("--max-image-pixels") != std::string::npos, msg);
  }

  // A real image over a lowered limit is refused the same way, and read again once the limit is raised.
  tg::testing::write_image(tmp / "real.png", 40, 30, 1, tg::testing::grey(40, 30, [](int y, int x) { return x + y; }));
  const ImageLimits defaults = image_limits();
  CHECK(defaults.max_pixels == 8192 * 8192);
  set_image_limits({1000, defaults.max_file_bytes});
  CHECK(tg::testing::error_of([&] { read_image(tmp / "real.png"); }).find("declares 30x40 pixels") != std::string::npos);
  set_image_limits({1200, defaults.max_file_bytes});
  CHECK(read_image(tmp / "real.png").pixels.size() == 1200);
  set_image_limits({defaults.max_pixels, 10});  // bytes: the file itself is larger
  CHECK(tg::testing::error_of([&] { read_image(tmp / "real.png"); }).find("an image file may be") != std::string::npos);
  set_image_limits(defaults);
  CHECK_THROWS_AS(set_image_limits({0, 1}), std::invalid_argument);
}

TEST_CASE("image_io: a PNG chunk longer than the file is refused before stb_image allocates its length") {
  // fuzz/image_fuzz.cpp: a 76-byte 6x5 PNG whose IDAT chunk declares 2,032,009,235 bytes made stb_image allocate
  // them before finding the file too short. Also fuzz/corpus/image/crash-idat-length.
  TempDir tmp;
  std::string png = png_header(6, 5, 16);
  be32(png, 0x791e0013);
  png += "IDAT";
  png += std::string("x\x9c" "cd`\xd0\x80\x03O^$@$\x07\x00", 15);
  std::ofstream(tmp / "long-chunk.png", std::ios::binary) << png;
  const std::string msg = tg::testing::error_of([&] { read_image(tmp / "long-chunk.png"); });
  CHECK_MESSAGE(msg.find("long-chunk.png") != std::string::npos, msg);
  CHECK_MESSAGE(msg.find("'IDAT' chunk declares 2032009235 bytes") != std::string::npos, msg);

  // A whole PNG passes the check, also with bytes after its end.
  tg::testing::write_image(tmp / "whole.png", 8, 8, 1, tg::testing::grey(8, 8, [](int y, int x) { return x * y; }));
  std::ofstream(tmp / "whole.png", std::ios::binary | std::ios::app) << "trailing bytes";
  CHECK(read_image(tmp / "whole.png").pixels.size() == 64);
}

TEST_CASE("image_io: folders, pipes and devices are refused without reading them") {
  TempDir tmp;
  std::filesystem::create_directory(tmp / "folder.png");
  REQUIRE(mkfifo((tmp / "pipe.png").c_str(), 0600) == 0);  // opening it for reading would block forever
  for (const auto& path : {tmp / "folder.png", tmp / "pipe.png", std::filesystem::path("/dev/zero")}) {
    CAPTURE(path);
    CHECK(tg::testing::error_of([&] { read_image(path); }).find("not a regular file") != std::string::npos);
    CHECK(tg::testing::error_of([&] { probe_image(path); }).find("not a regular file") != std::string::npos);
  }
}

TEST_CASE("image_io: is_image_extension is case-insensitive and selective") {
  CHECK(is_image_extension("a/B.PNG"));
  CHECK(is_image_extension("x.jpeg"));
  CHECK(is_image_extension("x.Tga"));
  CHECK_FALSE(is_image_extension("notes.txt"));
  CHECK_FALSE(is_image_extension("x.gif"));
}

TEST_CASE("image_io: image_tensor scales to 0..1, repeats grey, drops alpha, refuses colour for 1 channel") {
  const RawImage ga{1, 2, 2, 255, {0, 9, 255, 9}};  // grey + alpha
  CHECK(image_tensor(ga, 3, "ga.png").to_vector() == std::vector<double>{0, 0, 0, 1, 1, 1});
  const RawImage rgba{1, 1, 4, 65535, {65535, 0, 32768, 1}};
  const auto v = image_tensor(rgba, 3, "rgba.png").to_vector();
  CHECK(v[0] == 1.0);
  CHECK(v[1] == 0.0);
  CHECK(v[2] == doctest::Approx(32768.0 / 65535.0));
  const RawImage grey_as_rgb{1, 1, 3, 255, {51, 51, 51}};
  CHECK(image_tensor(grey_as_rgb, 1, "g.png").at({0, 0, 0}) == doctest::Approx(0.2));
  const RawImage colour{1, 2, 3, 255, {5, 5, 5, 1, 2, 3}};
  const std::string msg = tg::testing::error_of([&] { image_tensor(colour, 1, "colour.png"); });
  CHECK(msg.find("colour.png") != std::string::npos);
  CHECK(msg.find("(x=1, y=0)") != std::string::npos);
  CHECK_THROWS_AS(image_tensor(ga, 2, "ga.png"), std::invalid_argument);
}
