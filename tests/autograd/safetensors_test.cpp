#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <sys/resource.h>
#include <sys/stat.h>

#include "autograd/io/safetensors.h"
#include "tests/temp_dir.h"

using namespace tg;
namespace fs = std::filesystem;

namespace {
std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
}  // namespace

TEST_CASE("safetensors: layout matches the format (header length, JSON, little-endian data)") {
  const tg::testing::TempDir tmp;
  fs::path p = tmp / "layout.safetensors";
  save_safetensors(p, {{"conv2d/bias", Tensor::from({1.5, -2.0}, {2})}}, {{"k", "v"}});
  std::string bytes = read_bytes(p);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  std::string header = bytes.substr(8, n);
  CHECK(header.find(R"("__metadata__":{"k":"v"})") != std::string::npos);
  CHECK(header.find(R"("conv2d/bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})") != std::string::npos);
  float values[2];
  std::memcpy(values, bytes.data() + 8 + n, 8);
  CHECK(values[0] == 1.5f);
  CHECK(values[1] == -2.0f);
  CHECK(bytes.size() == 8 + n + 8);
}

TEST_CASE("safetensors: round trip is bit-exact, f32 and f64, order and metadata kept") {
  const tg::testing::TempDir tmp;
  fs::path p = tmp / "roundtrip.safetensors";
  Tensor a({2, 3, 1, 4});
  for (int64_t i = 0; i < a.numel(); ++i) a.set_flat(i, 0.1 * i - 1.0 / 3.0);
  Tensor b = Tensor::from({1e-300, -0.0, 3.25}, {3}, DType::F64);
  save_safetensors(p, {{"z", a}, {"a", b}}, {{"config", "{\"x\":1}"}});
  SafetensorsFile f = load_safetensors(p);
  REQUIRE(f.tensors.size() == 2);
  CHECK(f.tensors[0].name == "z");
  CHECK(f.metadata.at("config") == "{\"x\":1}");
  CHECK(f.at("z").shape() == a.shape());
  CHECK(std::memcmp(f.at("z").bytes(), a.bytes(), a.nbytes()) == 0);
  CHECK(f.at("a").dtype() == DType::F64);
  CHECK(std::memcmp(f.at("a").bytes(), b.bytes(), b.nbytes()) == 0);
  CHECK_THROWS_WITH_AS(f.at("missing"), doctest::Contains("has no tensor named 'missing'"), std::runtime_error);
}

TEST_CASE("safetensors: truncated and corrupt files give clear errors naming the file") {
  const tg::testing::TempDir tmp;
  fs::path p = tmp / "full.safetensors";
  save_safetensors(p, {{"w", Tensor::full({64}, 1.0)}});
  std::string bytes = read_bytes(p);
  fs::path t = tmp / "truncated.safetensors";
  std::ofstream(t, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 10));
  CHECK_THROWS_WITH_AS(load_safetensors(t), doctest::Contains("truncated.safetensors: truncated: tensor 'w'"),
                       std::runtime_error);
  fs::path c = tmp / "corrupt.safetensors";
  std::string bad = bytes;
  bad[9] = '#';
  std::ofstream(c, std::ios::binary).write(bad.data(), static_cast<std::streamsize>(bad.size()));
  CHECK_THROWS_WITH_AS(load_safetensors(c), doctest::Contains("corrupt safetensors header"), std::runtime_error);
  fs::path s = tmp / "short.safetensors";
  std::ofstream(s, std::ios::binary).write("abc", 3);
  CHECK_THROWS_WITH_AS(load_safetensors(s), doctest::Contains("not a safetensors file"), std::runtime_error);
  CHECK_THROWS_WITH_AS(load_safetensors(tmp / "absent.safetensors"), doctest::Contains("cannot open"),
                       std::runtime_error);
}

namespace {
// A safetensors file with this header text and `data_bytes` zero bytes of data.
fs::path hostile_file(const fs::path& dir, const std::string& name, const std::string& header, size_t data_bytes) {
  std::string bytes(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  bytes += header;
  bytes += std::string(data_bytes, '\0');
  const fs::path p = dir / name;
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p;
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}
}  // namespace

TEST_CASE("safetensors: sizes a header claims are checked against the file before anything is allocated") {
  const tg::testing::TempDir tmp;
  struct Case {
    const char* name;
    std::string header;
    size_t data_bytes;
    const char* expected;
  };
  const Case cases[] = {
      // 1 GiB claimed by a file of a few bytes: refused without allocating it (the peak RSS check below).
      {"huge", R"({"w":{"dtype":"F32","shape":[268435456],"data_offsets":[0,1073741824]}})", 16, "truncated"},
      {"fraction", R"({"w":{"dtype":"F32","shape":[3.5,3,1,4],"data_offsets":[0,144]}})", 144,
       "holds 3.5, not a non-negative integer"},
      {"negative", R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", 16, "holds -4"},
      {"overflow", R"({"w":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}})", 0,
       "too large to exist"},
      {"overlap",
       R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
       24, "tensors 'a' and 'b' overlap"},
      {"offsets", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[-16,0]}})", 16, "not a pair of byte offsets"},
  };
  const long rss_before = peak_rss_kib();
  for (const Case& c : cases) {
    const std::string case_name = c.name;
    CAPTURE(case_name);
    const fs::path p = hostile_file(tmp.path(), std::string(c.name) + ".safetensors", c.header, c.data_bytes);
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains(c.expected), std::runtime_error);
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains(p.string().c_str()), std::runtime_error);
  }
  CHECK(peak_rss_kib() - rss_before < 256 * 1024);  // the 1 GiB was never allocated (memory, not time)
}

TEST_CASE("safetensors: a folder or a pipe in a checkpoint's place is named as such, without blocking") {
  const tg::testing::TempDir tmp;
  fs::create_directory(tmp / "folder.safetensors");
  REQUIRE(mkfifo((tmp / "pipe.safetensors").c_str(), 0600) == 0);
  for (const char* name : {"folder.safetensors", "pipe.safetensors"})
    CHECK_THROWS_WITH_AS(load_safetensors(tmp / name), doctest::Contains("is not a regular file"), std::runtime_error);
}

TEST_CASE("safetensors: atomic write leaves no temporary files and replaces the old file") {
  const tg::testing::TempDir tmp;
  fs::path d = tmp / "atomic";
  fs::remove_all(d);
  fs::create_directories(d);
  save_safetensors(d / "ckpt.safetensors", {{"w", Tensor::full({4}, 1.0)}});
  save_safetensors(d / "ckpt.safetensors", {{"w", Tensor::full({4}, 2.0)}});
  CHECK(load_safetensors(d / "ckpt.safetensors").at("w").flat(3) == 2.0);
  CHECK(std::distance(fs::directory_iterator(d), fs::directory_iterator{}) == 1);
  // Readable by others as any new file is (not mkstemp's owner-only 0600), under a typical umask.
  const mode_t old_mask = ::umask(022);
  save_safetensors(d / "ckpt.safetensors", {{"w", Tensor::full({4}, 3.0)}});
  ::umask(old_mask);
  CHECK((fs::status(d / "ckpt.safetensors").permissions() & fs::perms::others_read) != fs::perms::none);
}
