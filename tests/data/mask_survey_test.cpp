// Masks misread by their encoding: index masks (0, 1, 2) read as binary (threshold 127) are all class 0. The
// folder dataset stops, naming the encoding to use in the library's terms.
#include "data_test_util.h"

using namespace tg::data;
using tg::testing::error_of;
using tg::testing::grey;
using tg::testing::TempDir;
using tg::testing::write_image;

namespace {

// Four 8x8 pairs whose masks hold the class ids 0..classes-1 in bands of rows.
void write_index_set(const std::filesystem::path& root, int classes) {
  for (const char* stem : {"a", "b", "c", "d"}) {
    write_image(root / "images" / (std::string(stem) + ".png"), 8, 8, 1, grey(8, 8, [](int y, int x) { return 16 * y + x; }));
    write_image(root / "masks" / (std::string(stem) + ".png"), 8, 8, 1,
                grey(8, 8, [&](int y, int) { return y * classes / 8; }));
  }
}

FolderOptions options(const std::filesystem::path& root, bool cache) {
  FolderOptions o;
  o.root = root;
  o.height = o.width = 8;
  o.cache = cache;
  return o;
}

}  // namespace

TEST_CASE("mask survey: index masks read as binary stop with an error that names MaskEncoding::index()") {
  TempDir tmp;
  write_index_set(tmp.path(), 3);
  for (const bool cache : {false, true}) {
    CAPTURE(cache);
    const std::string msg = error_of([&] { FolderDataset ds(options(tmp.path(), cache)); });
    CHECK(msg.find("binary (threshold 127) reads every pixel of the 4 mask(s) scanned as class 0") != std::string::npos);
    CHECK(msg.find("the values 0, 1, 2") != std::string::npos);
    CHECK(msg.find("FolderOptions::mask = MaskEncoding::index() with FolderOptions::num_classes = 3") !=
          std::string::npos);
    CHECK(msg.find((tmp / "masks").string()) != std::string::npos);
    CHECK(msg.find("--") == std::string::npos);  // no command-line flags in a library error
    CHECK_THROWS_AS(FolderDataset(options(tmp.path(), cache)), DataError);
  }
  // Read as the error says, they load with their ids.
  FolderOptions fixed = options(tmp.path(), false);
  fixed.mask = MaskEncoding::index();
  fixed.num_classes = 3;
  const FolderDataset ds(fixed);
  const Sample s = ds.get(0);
  CHECK(s.labels.at({0, 0}) == 0);
  CHECK(s.labels.at({3, 0}) == 1);
  CHECK(s.labels.at({7, 0}) == 2);
}

TEST_CASE("mask survey: 0/1 masks read with the default threshold are caught too, 0/255 and all-background are not") {
  TempDir ones, binary, empty;
  write_index_set(ones.path(), 2);
  CHECK(error_of([&] { FolderDataset ds(options(ones.path(), false)); }).find("FolderOptions::num_classes = 2") !=
        std::string::npos);
  // binary:0 reads them as meant.
  FolderOptions low = options(ones.path(), true);
  low.mask = MaskEncoding::binary(0);
  CHECK(FolderDataset(low).get(0).labels.at({7, 0}) == 1);

  for (const char* stem : {"a", "b"}) tg::testing::write_pair(binary.path(), stem);
  CHECK_NOTHROW(FolderDataset(options(binary.path(), false)));
  CHECK_NOTHROW(FolderDataset(options(binary.path(), true)));

  // Masks with no foreground at all are a dataset without class 1, not class ids in disguise.
  for (const char* stem : {"a", "b"}) {
    write_image(empty / "images" / (std::string(stem) + ".png"), 8, 8, 1, grey(8, 8, [](int, int) { return 9; }));
    write_image(empty / "masks" / (std::string(stem) + ".png"), 8, 8, 1, grey(8, 8, [](int, int) { return 0; }));
  }
  CHECK_NOTHROW(FolderDataset(options(empty.path(), false)));
}

TEST_CASE("mask errors speak the library's option names") {
  TempDir tmp;
  tg::testing::write_pair(tmp.path(), "a");  // 0/255 masks
  FolderOptions o = options(tmp.path(), true);
  o.mask = MaskEncoding::index();
  o.num_classes = 3;
  const std::string msg = error_of([&] { FolderDataset ds(o); });
  CHECK(msg.find("FolderOptions::mask = MaskEncoding::binary() for 0/255 masks") != std::string::npos);
  CHECK(msg.find("--") == std::string::npos);

  FolderOptions binary_many = options(tmp.path(), false);
  binary_many.num_classes = 3;
  const std::string many = error_of([&] { FolderDataset ds(binary_many); });
  CHECK(many.find("MaskEncoding::index()") != std::string::npos);
  CHECK(many.find("--") == std::string::npos);
}
