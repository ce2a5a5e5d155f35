#include "data_test_util.h"

using namespace tg::data;
using tg::testing::TempDir;
using tg::testing::error_of;

namespace {
RawImage raw(int h, int w, int c, std::vector<float> px, int max_value = 255) {
  return RawImage{h, w, c, max_value, std::move(px)};
}
}  // namespace

TEST_CASE("mask: binary thresholds at 127 by default (value > threshold is class 1)") {
  const auto ids = decode_mask(raw(1, 5, 1, {0, 127, 128, 200, 255}), MaskEncoding::binary(), {2, -1}, "m.png");
  CHECK(ids == std::vector<float>{0, 0, 1, 1, 1});
  const auto t200 = decode_mask(raw(1, 5, 1, {0, 127, 128, 200, 255}), parse_mask_spec("binary:200"), {2, -1}, "m.png");
  CHECK(t200 == std::vector<float>{0, 0, 0, 0, 1});
  // 16-bit masks threshold on the same 0..255 scale: 127 * 257 = 32639
  const auto wide = decode_mask(raw(1, 3, 1, {32639, 32640, 65535}, 65535), MaskEncoding::binary(), {2, -1}, "m.png");
  CHECK(wide == std::vector<float>{0, 1, 1});
}

TEST_CASE("mask: binary masks saved as RGB or with alpha use the grey value") {
  // grey+alpha: alpha 0 everywhere must not matter
  CHECK(decode_mask(raw(1, 2, 2, {255, 0, 0, 0}), MaskEncoding::binary(), {2, -1}, "m.png") == std::vector<float>{1, 0});
  CHECK(decode_mask(raw(1, 2, 4, {255, 255, 255, 9, 3, 3, 3, 9}), MaskEncoding::binary(), {2, -1}, "m.png") ==
        std::vector<float>{1, 0});
}

TEST_CASE("mask: class index with an ignore value") {
  const auto ids = decode_mask(raw(2, 2, 1, {0, 1, 2, 255}), MaskEncoding::index(), {3, 255}, "m.png");
  CHECK(ids == std::vector<float>{0, 1, 2, 255});
}

TEST_CASE("mask: a value outside the classes names the file and the first offending pixel") {
  // pixel (x=1, y=2) = 3 is the first bad one in row-major order; (x=2, y=2) = 7 comes after it
  std::vector<float> px(12, 0);
  px[2 * 4 + 1] = 3;
  px[2 * 4 + 2] = 7;
  const std::string msg = error_of([&] { decode_mask(raw(3, 4, 1, px), MaskEncoding::index(), {3, -1}, "dir/bad_mask.png"); });
  CHECK(msg.find("bad_mask.png") != std::string::npos);
  CHECK(msg.find("(x=1, y=2)") != std::string::npos);
  CHECK(msg.find("value 3") != std::string::npos);
  // 255 is out of range unless it is the ignore index
  CHECK_THROWS_AS(decode_mask(raw(1, 1, 1, {255}), MaskEncoding::index(), {3, -1}, "m.png"), DataError);
  CHECK_THROWS_AS(decode_mask(raw(1, 1, 1, {254}), MaskEncoding::index(), {3, 255}, "m.png"), DataError);
}

TEST_CASE("mask: colour pixels in an index mask are refused, naming the pixel") {
  const std::string msg =
      error_of([&] { decode_mask(raw(1, 2, 3, {1, 1, 1, 0, 2, 0}), MaskEncoding::index(), {3, -1}, "c.png"); });
  CHECK(msg.find("c.png") != std::string::npos);
  CHECK(msg.find("(x=1, y=0)") != std::string::npos);
  CHECK(msg.find("palette") != std::string::npos);
}

TEST_CASE("mask: palette from JSON (list and object) and CSV") {
  TempDir tmp;
  std::ofstream(tmp / "list.json") << "[[0,0,0],[255,0,0],[0,255,0]]";
  std::ofstream(tmp / "map.json") << R"({"0": [0,0,0], "1": [255,0,0], "2": [0,255,0], "255": [255,255,255]})";
  std::ofstream(tmp / "pal.csv") << "# VOC-like\nclass,r,g,b\n0,0,0,0\n1,255,0,0\n2, 0, 255, 0\n255,255,255,255\n";
  std::ofstream(tmp / "plain.csv") << "0,0,0\n255,0,0\n0,255,0\n";
  const RawImage rgb = raw(1, 4, 3, {0, 255, 0, 255, 0, 0, 0, 0, 0, 255, 0, 0});
  const std::vector<float> want{2, 1, 0, 1};
  for (const char* name : {"list.json", "map.json", "pal.csv", "plain.csv"}) {
    CAPTURE(name);
    const MaskEncoding enc = parse_mask_spec(std::string("palette:") + (tmp / name).string());
    CHECK(enc.kind == MaskEncoding::Kind::Palette);
    CHECK(decode_mask(rgb, enc, {3, 255}, "m.png") == want);
  }
  // RGBA: alpha is ignored; white maps to the ignore index through the palette
  const MaskEncoding enc = parse_mask_spec("palette:" + (tmp / "map.json").string());
  CHECK(decode_mask(raw(1, 2, 4, {255, 255, 255, 0, 255, 0, 0, 255}), enc, {3, 255}, "m.png") ==
        std::vector<float>{255, 1});
  // An unknown colour names the file, pixel and colour.
  const std::string msg = error_of([&] { decode_mask(raw(1, 2, 3, {0, 0, 0, 1, 2, 3}), enc, {3, 255}, "p.png"); });
  CHECK(msg.find("p.png") != std::string::npos);
  CHECK(msg.find("(x=1, y=0)") != std::string::npos);
  CHECK(msg.find("(1, 2, 3)") != std::string::npos);
  // A palette class outside the classes is caught, unless it is the ignore index.
  CHECK_THROWS_AS(decode_mask(rgb, enc, {2, 255}, "m.png"), DataError);
}

TEST_CASE("mask: palettes that name their classes (CamVid's class_dict.csv, JSON objects) give the names") {
  TempDir tmp;
  // CamVid's layout, with Windows line ends and a quoted name.
  std::ofstream(tmp / "class_dict.csv") << "name,r,g,b\r\nSky,128,128,128\r\n\"Road\",128,64,128\r\nCar,64,0,128\r\n";
  std::ofstream(tmp / "named.json")
      << R"([{"name": "Sky", "color": [128,128,128]}, {"name": "Road", "color": [128,64,128]},)"
      << R"( {"name": "Car", "color": [64,0,128]}, {"name": "void", "color": [0,0,0], "id": 255}])";
  const RawImage rgb = raw(1, 3, 3, {64, 0, 128, 128, 128, 128, 128, 64, 128});
  for (const char* name : {"class_dict.csv", "named.json"}) {
    CAPTURE(name);
    const MaskEncoding enc = parse_mask_spec(std::string("palette:") + (tmp / name).string());
    CHECK(decode_mask(rgb, enc, {3, 255}, "m.png") == std::vector<float>{2, 0, 1});
    CHECK(palette_class_names(enc.palette, 3) == std::vector<std::string>{"Sky", "Road", "Car"});
    // Fewer classes than named: the names of those classes; the ignore index (255) is never one of them.
    CHECK(palette_class_names(enc.palette, 2) == std::vector<std::string>{"Sky", "Road"});
  }
  // Unnamed palettes name nothing.
  std::ofstream(tmp / "plain.csv") << "0,0,0\n255,0,0\n";
  CHECK(palette_class_names(load_palette(tmp / "plain.csv"), 2).empty());
  std::ofstream(tmp / "bad.json") << R"([{"name": 3, "color": [1,2,3]}])";
  CHECK(error_of([&] { load_palette(tmp / "bad.json"); }).find("\"color\": [r, g, b]") != std::string::npos);
}

TEST_CASE("mask: spec parsing and bad palette files") {
  TempDir tmp;
  CHECK(parse_mask_spec("binary").kind == MaskEncoding::Kind::Binary);
  CHECK(parse_mask_spec("binary").threshold == 127);
  CHECK(parse_mask_spec("binary:10").threshold == 10);
  CHECK(parse_mask_spec("index").kind == MaskEncoding::Kind::Index);
  for (const char* bad : {"", "bin", "binary:x", "binary:300", "index:3", "palette", "palette:"})
    CHECK_THROWS_AS(parse_mask_spec(bad), std::invalid_argument);
  CHECK_THROWS_AS(parse_mask_spec("palette:" + (tmp / "nope.json").string()), DataError);
  std::ofstream(tmp / "dup.csv") << "0,0,0\n0,0,0\n";
  std::ofstream(tmp / "bad.json") << "{\"a\": [1,2,3]}";
  std::ofstream(tmp / "range.csv") << "0,0,300\n";
  std::ofstream(tmp / "broken.json") << "[[0,0,0]";
  for (const char* name : {"dup.csv", "bad.json", "range.csv", "broken.json"}) {
    CAPTURE(name);
    CHECK(error_of([&] { load_palette(tmp / name); }).find(name) != std::string::npos);
  }
  // Values beyond int are refused, not wrapped into 0..255 (4294967296 read as an int is 0).
  for (const char* value : {"4294967296", "18446744073709551616", "-4294967296", "256", "1.5"}) {
    CAPTURE(value);
    std::ofstream(tmp / "wide.json") << "[[0, 0, " << value << "]]";
    CHECK(error_of([&] { load_palette(tmp / "wide.json"); }).find("integers in 0..255") != std::string::npos);
  }
}

TEST_CASE("mask: 16-bit palette masks match the palette's 8-bit colours widened to 16 bits (c * 257)") {
  TempDir tmp;
  std::ofstream(tmp / "pal.json") << R"({"0": [0,0,0], "1": [255,0,0], "2": [0,128,64], "255": [255,255,255]})";
  const MaskEncoding enc = parse_mask_spec("palette:" + (tmp / "pal.json").string());
  // Through a real 16-bit RGB PNG: red, (0, 128, 64), white (the ignore index), black.
  tg::testing::write_png16(tmp / "m16.png", 1, 4, 3,
                           {65535, 0, 0, 0, 128 * 257, 64 * 257, 65535, 65535, 65535, 0, 0, 0});
  const RawImage m = read_image(tmp / "m16.png");
  REQUIRE(m.max_value == 65535);
  CHECK(decode_mask(m, enc, {3, 255}, "m16.png") == std::vector<float>{1, 2, 255, 0});
  // A 16-bit value that is no widened 8-bit value is no palette colour, and the message shows it as stored.
  const std::string msg =
      error_of([&] { decode_mask(raw(1, 2, 3, {65535, 0, 0, 255, 0, 0}, 65535), enc, {3, 255}, "p16.png"); });
  CHECK(msg.find("(x=1, y=0)") != std::string::npos);
  CHECK(msg.find("(255, 0, 0)") != std::string::npos);
}

TEST_CASE("mask: binary masks with an ignore value: that value is void, the rest is thresholded") {
  // 0 = background, 128 = unlabelled, 255 = foreground (8-bit); 16-bit masks name the value on the 0..255 scale.
  CHECK(decode_mask(raw(1, 4, 1, {0, 128, 255, 127}), MaskEncoding::binary(), {2, 128}, "m.png") ==
        std::vector<float>{0, 128, 1, 0});
  CHECK(decode_mask(raw(1, 3, 1, {0, 128 * 257, 65535}, 65535), MaskEncoding::binary(), {2, 128}, "m.png") ==
        std::vector<float>{0, 128, 1});
  CHECK(decode_mask(raw(1, 3, 1, {0, 128, 255}), MaskEncoding::binary(), {2, -1}, "m.png") ==
        std::vector<float>{0, 1, 1});
}
