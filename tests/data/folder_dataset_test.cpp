#include "data_test_util.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

using namespace tg::data;
using tg::testing::error_of;
using tg::testing::grey;
using tg::testing::TempDir;
using tg::testing::write_image;
using tg::testing::write_pair;

namespace {

FolderOptions small(const std::filesystem::path& root) {
  FolderOptions o;
  o.root = root;
  o.height = o.width = 8;
  return o;
}

// Every file under root with its size and modification time, to prove that loading writes nothing.
std::map<std::string, std::pair<uintmax_t, std::filesystem::file_time_type>> snapshot(const std::filesystem::path& root) {
  std::map<std::string, std::pair<uintmax_t, std::filesystem::file_time_type>> s;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root))
    s[e.path().string()] = {e.is_regular_file() ? e.file_size() : 0, e.last_write_time()};
  return s;
}

}  // namespace

TEST_CASE("folder: images/ + masks/ pair by stem in natural order, other files are ignored") {
  TempDir tmp;
  for (const char* stem : {"10", "2", "1"}) write_pair(tmp.path(), stem);
  std::ofstream(tmp / "images" / "README.txt") << "not an image";
  std::ofstream(tmp / "masks" / ".hidden.png") << "hidden";
  FolderDataset ds(small(tmp.path()));
  REQUIRE(ds.size() == 3);
  CHECK(ds.name(0) == "1");
  CHECK(ds.name(1) == "2");
  CHECK(ds.name(2) == "10");
  CHECK(ds.index_of("10") == 2);
  CHECK_THROWS_AS(ds.index_of("3"), std::out_of_range);
  CHECK(ds.spec().channels == 1);
  const Sample s = ds.get(0);
  CHECK(s.image.shape() == tg::Shape{8, 8, 1});
  CHECK(s.labels.shape() == tg::Shape{8, 8});
  // the mask is the bright half of the image: rows 4..7 are class 1
  CHECK(s.labels.at({3, 7}) == 0);
  CHECK(s.labels.at({4, 0}) == 1);
  CHECK(s.image.at({7, 7, 0}) == doctest::Approx(251.0 / 255.0));  // (63 * 255 / 64) = 251
}

TEST_CASE("folder: membrane's image/ + label/ layout is detected, other names are configurable") {
  TempDir tmp;
  write_pair(tmp.path(), "0", 8, 8, "image", "label");
  write_pair(tmp.path(), "1", 8, 8, "image", "label");
  FolderDataset detected(small(tmp.path()));
  CHECK(detected.size() == 2);
  CHECK(detected.layout().mask_dir.filename() == "label");

  write_pair(tmp / "custom", "a", 8, 8, "pics", "gt");
  FolderOptions o = small(tmp / "custom");
  o.image_dir = "pics";
  o.mask_dir = "gt";
  CHECK(FolderDataset(o).size() == 1);
  // without names, an unknown layout is reported with the folders it does have
  const std::string msg = error_of([&] { FolderDataset{small(tmp / "custom")}; });
  CHECK(msg.find("pics") != std::string::npos);
  CHECK(msg.find("gt") != std::string::npos);
}

TEST_CASE("folder: a mask may be another format than its image, and may carry a suffix") {
  TempDir tmp;
  const auto img = grey(8, 8, [](int y, int) { return y * 30; });
  const auto msk = grey(8, 8, [](int y, int) { return y >= 4 ? 255 : 0; });
  write_image(tmp / "images" / "a.jpg", 8, 8, 1, img);
  write_image(tmp / "masks" / "a_mask.bmp", 8, 8, 1, msk);
  write_image(tmp / "images" / "b.tga", 8, 8, 3, std::vector<uint8_t>(8 * 8 * 3, 90));
  write_image(tmp / "masks" / "b_mask.png", 8, 8, 1, msk);
  FolderOptions o = small(tmp.path());
  o.mask_suffix = "_mask";
  o.channels = 3;
  FolderDataset ds(o);
  REQUIRE(ds.size() == 2);
  const Sample a = ds.get(0), b = ds.get(1);
  CHECK(a.image.shape() == tg::Shape{8, 8, 3});  // grey repeated into 3 channels
  CHECK(a.image.at({7, 0, 0}) == a.image.at({7, 0, 2}));
  CHECK(b.image.at({0, 0, 1}) == doctest::Approx(90.0 / 255.0));
  CHECK(a.labels.at({3, 0}) == 0);
  CHECK(a.labels.at({4, 0}) == 1);
  CHECK(b.labels.to_vector() == a.labels.to_vector());
}

TEST_CASE("folder: 16-bit images scale by 65535 and 16-bit index masks keep their ids") {
  TempDir tmp;
  tg::testing::write_png16(tmp / "images" / "x.png", 2, 2, 1, {0, 65535, 32768, 1000});
  tg::testing::write_png16(tmp / "masks" / "x.png", 2, 2, 1, {0, 1, 2, 1});
  FolderOptions o = small(tmp.path());
  o.height = o.width = 2;
  o.mask = MaskEncoding::index();
  o.num_classes = 3;
  const Sample s = FolderDataset(o).get(0);
  CHECK(s.image.at({0, 1, 0}) == 1.0);
  CHECK(s.image.at({1, 0, 0}) == doctest::Approx(32768.0 / 65535.0));
  CHECK(s.labels.to_vector() == std::vector<double>{0, 1, 2, 1});
}

TEST_CASE("folder: resize to the input size (bilinear image, nearest mask) and centre/random crops") {
  TempDir tmp;
  write_pair(tmp.path(), "p", 16, 16);
  FolderOptions o = small(tmp.path());
  const Sample r = FolderDataset(o).get(0);
  CHECK(r.image.shape() == tg::Shape{8, 8, 1});
  // the mask stays binary and its boundary stays where the image's bright half starts
  CHECK(tg::testing::all(r.labels.to_vector(), [](double v) { return v == 0 || v == 1; }));
  CHECK(r.labels.at({3, 7}) == 0);
  CHECK(r.labels.at({4, 0}) == 1);

  o.size_mode = SizeMode::Crop;
  FolderDataset cropped(o);
  const Sample c = cropped.get(0);  // centre: rows/cols 4..11 of the 16x16 gradient
  CHECK(c.image.at({0, 0, 0}) == doctest::Approx((4 * 16 + 4) * 255 / 256 / 255.0));
  bool moved = false;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    tg::Rng rng(seed);
    const Sample rc = cropped.get(0, &rng);
    // a random crop is a window of the image (found by search), with the mask cut at the same place
    int found = 0;
    for (int top = 0; top <= 8; ++top)
      for (int left = 0; left <= 8; ++left) {
        bool same = true;
        for (int y = 0; y < 8 && same; ++y)
          for (int x = 0; x < 8 && same; ++x)
            same = std::abs(rc.image.at({y, x, 0}) - ((top + y) * 16 + left + x) * 255 / 256 / 255.0) < 1e-6 &&
                   rc.labels.at({y, x}) == ((top + y) * 16 + left + x >= 128 ? 1 : 0);
        found += same;
      }
    CHECK(found == 1);
    moved = moved || std::abs(rc.image.at({0, 0, 0}) - c.image.at({0, 0, 0})) > 1e-6;
  }
  CHECK(moved);
}

TEST_CASE("folder: cache gives the same samples, and cached samples are copies") {
  TempDir tmp;
  write_pair(tmp.path(), "a");
  write_pair(tmp.path(), "b");
  FolderOptions o = small(tmp.path());
  FolderDataset plain(o);
  o.cache = true;
  FolderDataset cached(o);
  Sample first = cached.get(1);
  CHECK(first.image.to_vector() == plain.get(1).image.to_vector());
  first.image.fill(0);  // an augmentation writing into its sample must not reach the cache
  CHECK(cached.get(1).image.to_vector() == plain.get(1).image.to_vector());

  // resized (cached after resizing) and random crops (cached at full size) match the uncached reads
  write_pair(tmp / "big", "c", 16, 16);
  for (SizeMode mode : {SizeMode::Resize, SizeMode::Crop}) {
    FolderOptions b = small(tmp / "big");
    b.size_mode = mode;
    FolderDataset uncached(b);
    b.cache = true;
    FolderDataset with_cache(b);
    tg::Rng r1(5), r2(5);
    const Sample u = uncached.get(0, &r1), w = with_cache.get(0, &r2);
    CHECK(u.image.to_vector() == w.image.to_vector());
    CHECK(u.labels.to_vector() == w.labels.to_vector());
  }
}

TEST_CASE("folder bad input: missing mask, mask without image, duplicate stems") {
  TempDir tmp;
  write_pair(tmp.path(), "ok");
  write_image(tmp / "images" / "lonely.png", 8, 8, 1, grey(8, 8, [](int, int) { return 1; }));
  std::string msg = error_of([&] { FolderDataset{small(tmp.path())}; });
  CHECK(msg.find("lonely.png") != std::string::npos);
  CHECK(msg.find("has no mask") != std::string::npos);
  std::filesystem::remove(tmp / "images" / "lonely.png");

  write_image(tmp / "masks" / "orphan.png", 8, 8, 1, grey(8, 8, [](int, int) { return 0; }));
  msg = error_of([&] { FolderDataset{small(tmp.path())}; });
  CHECK(msg.find("orphan.png") != std::string::npos);
  CHECK(msg.find("without an image") != std::string::npos);
  std::filesystem::remove(tmp / "masks" / "orphan.png");

  write_image(tmp / "images" / "ok.bmp", 8, 8, 1, grey(8, 8, [](int, int) { return 0; }));
  msg = error_of([&] { FolderDataset{small(tmp.path())}; });
  CHECK(msg.find("same stem") != std::string::npos);
}

TEST_CASE("folder bad input: empty folders and a missing root") {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "images");
  std::filesystem::create_directories(tmp / "masks");
  std::string msg = error_of([&] { FolderDataset{small(tmp.path())}; });
  CHECK(msg.find("images") != std::string::npos);
  CHECK(msg.find("no ") != std::string::npos);
  msg = error_of([&] { FolderDataset{small(tmp / "nowhere")}; });
  CHECK(msg.find("nowhere") != std::string::npos);
}

TEST_CASE("folder bad input: unreadable and truncated files name the file") {
  TempDir tmp;
  write_pair(tmp.path(), "good", 32, 32);
  write_pair(tmp.path(), "cut", 32, 32);
  std::ofstream(tmp / "images" / "junk.png") << "not a png";
  write_image(tmp / "masks" / "junk.png", 32, 32, 1, grey(32, 32, [](int, int) { return 0; }));
  // garbage is caught by the header check at construction
  std::string msg = error_of([&] { FolderDataset{small(tmp.path())}; });
  CHECK(msg.find("junk.png") != std::string::npos);
  std::filesystem::remove(tmp / "images" / "junk.png");
  std::filesystem::remove(tmp / "masks" / "junk.png");

  // a truncated file has a valid header: get() reports it, or the constructor when caching
  const auto cut = tmp / "images" / "cut.png";
  std::filesystem::resize_file(cut, std::filesystem::file_size(cut) / 2);
  FolderOptions o = small(tmp.path());
  FolderDataset lazy(o);
  msg = error_of([&] { lazy.get(lazy.index_of("cut")); });
  CHECK(msg.find("cut.png") != std::string::npos);
  CHECK(msg.find("truncated") != std::string::npos);
  CHECK_NOTHROW(lazy.get(lazy.index_of("good")));
  o.cache = true;
  msg = error_of([&] { FolderDataset{o}; });
  CHECK(msg.find("cut.png") != std::string::npos);
}

TEST_CASE("folder bad input: image and mask of different sizes") {
  TempDir tmp;
  write_image(tmp / "images" / "a.png", 8, 8, 1, grey(8, 8, [](int, int) { return 0; }));
  write_image(tmp / "masks" / "a.png", 8, 6, 1, grey(8, 6, [](int, int) { return 0; }));
  const std::string msg = error_of([&] { FolderDataset{small(tmp.path())}; });
  CHECK(msg.find("a.png") != std::string::npos);
  CHECK(msg.find("6x8") != std::string::npos);
  CHECK(msg.find("8x8") != std::string::npos);
}

TEST_CASE("folder bad input: unsupported channel counts (colour into a 1-channel model, colour index mask)") {
  TempDir tmp;
  std::vector<uint8_t> rgb(8 * 8 * 3, 0);
  rgb[5 * 3 + 1] = 200;  // pixel (x=5, y=0) is green
  write_image(tmp / "images" / "a.png", 8, 8, 3, rgb);
  write_image(tmp / "masks" / "a.png", 8, 8, 1, grey(8, 8, [](int, int) { return 0; }));
  FolderOptions o = small(tmp.path());
  o.channels = 1;
  std::string msg = error_of([&] { FolderDataset(o).get(0); });
  CHECK(msg.find("a.png") != std::string::npos);
  CHECK(msg.find("1 channel") != std::string::npos);
  o.channels = 3;
  CHECK_NOTHROW(FolderDataset(o).get(0));

  write_image(tmp / "masks" / "a.png", 8, 8, 3, rgb);  // a colour mask read as class indices
  o.mask = MaskEncoding::index();
  msg = error_of([&] { FolderDataset(o).get(0); });
  CHECK(msg.find("masks/a.png") != std::string::npos);
  CHECK(msg.find("colour mask") != std::string::npos);
}

TEST_CASE("folder bad input: mask values out of range name the file and the first pixel") {
  TempDir tmp;
  write_pair(tmp.path(), "a");  // 0/255 masks, read as class indices of 2 classes
  FolderOptions o = small(tmp.path());
  o.mask = MaskEncoding::index();
  const std::string msg = error_of([&] { FolderDataset(o).get(0); });
  CHECK(msg.find("masks/a.png") != std::string::npos);
  CHECK(msg.find("(x=0, y=4)") != std::string::npos);
  CHECK(msg.find("value 255") != std::string::npos);
  // with 255 as the ignore index the same mask loads, and the bright half is ignored
  o.ignore_index = 255;
  const Sample s = FolderDataset(o).get(0);
  CHECK(s.labels.at({4, 0}) == 255);
  CHECK(s.labels.at({0, 0}) == 0);
}

TEST_CASE("folder bad input: skip_bad warns per file, counts, and keeps the good pairs") {
  TempDir tmp;
  for (const char* stem : {"good1", "good2"}) {
    write_image(tmp / "images" / (std::string(stem) + ".png"), 16, 16, 1, grey(16, 16, [](int y, int) { return y; }));
    write_image(tmp / "masks" / (std::string(stem) + ".png"), 16, 16, 1, grey(16, 16, [](int y, int) { return y / 8; }));
  }
  write_image(tmp / "images" / "nomask.png", 16, 16, 1, grey(16, 16, [](int, int) { return 0; }));
  write_image(tmp / "masks" / "noimage.png", 16, 16, 1, grey(16, 16, [](int, int) { return 0; }));
  std::ofstream(tmp / "images" / "junk.png") << "junk";
  write_pair(tmp.path(), "junk", 16, 16, "unused", "masks");
  write_pair(tmp.path(), "cut", 16, 16);
  std::filesystem::resize_file(tmp / "masks" / "cut.png", std::filesystem::file_size(tmp / "masks" / "cut.png") - 20);
  write_image(tmp / "images" / "sizes.png", 16, 16, 1, grey(16, 16, [](int, int) { return 0; }));
  write_image(tmp / "masks" / "sizes.png", 8, 8, 1, grey(8, 8, [](int, int) { return 0; }));
  write_image(tmp / "images" / "range.png", 16, 16, 1, grey(16, 16, [](int, int) { return 0; }));
  write_image(tmp / "masks" / "range.png", 16, 16, 1, grey(16, 16, [](int y, int) { return y == 3 ? 7 : 0; }));

  FolderOptions o = small(tmp.path());
  o.mask = MaskEncoding::index();
  CHECK_THROWS_AS(FolderDataset{o}, DataError);
  o.skip_bad = true;
  FolderDataset ds(o);
  CHECK(ds.size() == 2);
  CHECK(ds.name(0) == "good1");
  CHECK(ds.name(1) == "good2");
  std::vector<std::string> names;
  for (const BadFile& b : ds.skipped()) names.push_back(b.file.filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"cut.png", "junk.png", "noimage.png", "nomask.png", "range.png", "sizes.png"});
  for (const BadFile& b : ds.skipped()) CHECK_FALSE(b.reason.empty());
  // everything skipped is still a clear error
  std::filesystem::remove_all(tmp / "images");
  write_image(tmp / "images" / "range.png", 16, 16, 1, grey(16, 16, [](int, int) { return 0; }));
  CHECK_THROWS_AS(FolderDataset{o}, DataError);
}

TEST_CASE("folder: reading never writes into the data folders") {
  TempDir tmp;
  write_pair(tmp.path(), "a", 16, 16);
  write_pair(tmp.path(), "b", 16, 16);
  write_image(tmp / "images" / "c.png", 16, 16, 1, grey(16, 16, [](int, int) { return 0; }));  // no mask
  const auto before = snapshot(tmp.path());
  FolderOptions o = small(tmp.path());
  o.skip_bad = true;
  o.cache = true;
  FolderDataset ds(o);
  tg::Rng rng(1);
  for (size_t i = 0; i < ds.size(); ++i) ds.get(i, &rng);
  o.cache = false;
  o.skip_bad = false;
  CHECK_THROWS(FolderDataset{o});
  CHECK(snapshot(tmp.path()) == before);
}

TEST_CASE("folder: option checks say what to change") {
  TempDir tmp;
  write_pair(tmp.path(), "a");
  FolderOptions o = small(tmp.path());
  o.num_classes = 3;  // binary masks have two classes
  CHECK(error_of([&] { FolderDataset{o}; }).find("binary") != std::string::npos);
  o.mask = MaskEncoding::index();
  o.ignore_index = 1;  // clashes with a class
  CHECK(error_of([&] { FolderDataset{o}; }).find("ignore") != std::string::npos);
  o.ignore_index = -1;
  o.channels = 2;
  CHECK_THROWS_AS(FolderDataset{o}, std::invalid_argument);
  o.channels = 1;
  o.size_mode = SizeMode::Crop;
  o.height = 9;  // larger than the 8x8 files
  CHECK(error_of([&] { FolderDataset{o}; }).find("smaller") != std::string::npos);
}

TEST_CASE("folder: after resizing, image and mask line up over the whole image (30x45 -> 16x24)") {
  // Dark shapes (50) on a light ground (200), the mask 255 on the shapes. Wherever the bilinear image is pure (all
  // four source pixels on one side of an edge), the nearest-neighbour label must be that side's class.
  TempDir tmp;
  const int h = 30, w = 45;
  auto inside = [](int y, int x) {
    const double dy = (y - 11.5) / 8.0, dx = (x - 14.0) / 11.0;
    return dy * dy + dx * dx < 1.0 || (y >= 17 && y < 27 && x >= 30 && x < 41);
  };
  write_image(tmp / "images" / "a.png", h, w, 1, grey(h, w, [&](int y, int x) { return inside(y, x) ? 50 : 200; }));
  write_image(tmp / "masks" / "a.png", h, w, 1, grey(h, w, [&](int y, int x) { return inside(y, x) ? 255 : 0; }));
  FolderOptions o = small(tmp.path());
  o.height = 16;
  o.width = 24;
  const Sample s = FolderDataset(o).get(0);
  REQUIRE(s.image.shape() == tg::Shape{16, 24, 1});
  auto mismatches = [&](int shift) {  // labels read `shift` columns to the right
    int pure = 0, wrong = 0;
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 24 - shift; ++x) {
        const double v = s.image.at({y, x, 0}) * 255.0;
        const double label = s.labels.at({y, x + shift});
        if (std::abs(v - 50) < 1e-3) ++pure, wrong += label != 1;
        if (std::abs(v - 200) < 1e-3) ++pure, wrong += label != 0;
      }
    return std::pair{pure, wrong};
  };
  const auto [pure, wrong] = mismatches(0);
  CHECK(pure > 16 * 24 / 2);
  CHECK(wrong == 0);
  CHECK(mismatches(1).second > 0);  // the check sees a one-pixel misalignment
}

TEST_CASE("folder: nearest interpolation samples image and mask at the same pixels, so 1-pixel lines stay aligned") {
  // Membrane-like: 1-pixel dark lines (0) every 5 rows and 7 columns on a light ground (255), the mask 0 on the lines.
  // Halving by nearest reads source pixel (2y + 1, 2x + 1) in both, so every image pixel tells its label exactly;
  // bilinear averages 2x2 blocks, so a line on the block's even row greys the image where the label says ground.
  TempDir tmp;
  const int h = 64, w = 64;
  auto line = [](int y, int x) { return y % 5 == 2 || x % 7 == 3; };
  write_image(tmp / "images" / "a.png", h, w, 1, grey(h, w, [&](int y, int x) { return line(y, x) ? 0 : 255; }));
  write_image(tmp / "masks" / "a.png", h, w, 1, grey(h, w, [&](int y, int x) { return line(y, x) ? 0 : 255; }));
  FolderOptions o = small(tmp.path());
  o.height = o.width = 32;
  auto disagreements = [&](Interpolation how) {
    o.interpolation = how;
    const Sample s = FolderDataset(o).get(0);
    REQUIRE(s.image.shape() == tg::Shape{32, 32, 1});
    int lines = 0, wrong = 0;
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) {
        const bool dark = s.image.at({y, x, 0}) < 0.5;  // the mask drawn from the image itself
        lines += s.labels.at({y, x}) == 0;
        wrong += dark != (s.labels.at({y, x}) == 0);
      }
    return std::pair{lines, wrong};
  };
  const auto [lines, wrong] = disagreements(Interpolation::Nearest);
  CHECK(lines > 32 * 32 / 5);  // the lines survive where they cross the sampled pixels
  CHECK(wrong == 0);
  CHECK(disagreements(Interpolation::Bilinear).second > 0);  // the test tells the two apart
}

TEST_CASE("folder: random_phase reads a random pixel of each source cell in training, image and mask alike") {
  TempDir tmp;
  const int h = 64, w = 64;
  auto line = [](int y, int x) { return y % 5 == 2 || x % 7 == 3; };
  // The image also carries the source position, so each drawn sample tells which phase it read.
  write_image(tmp / "images" / "a.png", h, w, 1,
              grey(h, w, [&](int y, int x) { return line(y, x) ? (y % 2) * 10 + (x % 2) * 20 : 255; }));
  write_image(tmp / "masks" / "a.png", h, w, 1, grey(h, w, [&](int y, int x) { return line(y, x) ? 0 : 255; }));
  FolderOptions o = small(tmp.path());
  o.height = o.width = 32;
  o.interpolation = Interpolation::Nearest;
  o.random_phase = true;
  for (bool cache : {false, true}) {
    CAPTURE(cache);
    o.cache = cache;
    const FolderDataset ds(o);
    std::set<std::vector<double>> phases;
    for (uint64_t seed = 0; seed < 16; ++seed) {
      tg::Rng rng(seed);
      const Sample s = ds.get(0, &rng);
      tg::Rng again(seed);
      CHECK(ds.get(0, &again).image.to_vector() == s.image.to_vector());  // a pure function of the seed
      int wrong = 0;
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) wrong += (s.image.at({y, x, 0}) < 0.5) != (s.labels.at({y, x}) == 0);
      CHECK(wrong == 0);
      phases.insert(s.image.to_vector());
    }
    CHECK(phases.size() == 4);  // a 2x shrink has four aligned images, and 16 draws find them all
    // Without a generator (validation), the centre pixel as without random_phase.
    FolderOptions centre = o;
    centre.random_phase = false;
    CHECK(ds.get(0).image.to_vector() == FolderDataset(centre).get(0).image.to_vector());
  }
  o.interpolation = Interpolation::Bilinear;
  CHECK(error_of([&] { FolderDataset{o}; }).find("Interpolation::Nearest") != std::string::npos);
}
