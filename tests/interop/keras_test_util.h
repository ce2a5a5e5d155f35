// Keras-layout fixture files for the tests: written at test time by tests/interop/make_keras_files.py with Debian's
// /usr/bin/python3 and python3-h5py (Keras itself is not needed). Tests skip, saying why, where h5py is missing.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "layers/layers.h"
#include "tests/skip.h"
#include "tests/temp_dir.h"

namespace tg::keras_test {

inline bool h5py_available() {
  static const bool available = std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") == 0;
  return available;
}

#define TG_NEED_H5PY()                                                                                            \
  do {                                                                                                             \
    if (!tg::keras_test::h5py_available())                                                                         \
      TG_SKIP_TEST("/usr/bin/python3 cannot import h5py (Debian's python3-h5py), which writes the Keras-layout "  \
                   "fixtures; scripts/install-deps.sh installs it");                                              \
  } while (0)

// Runs make_keras_files.py with `args`; returns its exit code, its output in `output`.
inline int run_fixture_script(const std::vector<std::string>& args, const std::filesystem::path& scratch,
                              std::string* output = nullptr) {
  std::string command = "/usr/bin/python3 '" TAPEGRAD_SOURCE_DIR "/tests/interop/make_keras_files.py'";
  for (const std::string& a : args) command += " '" + a + "'";
  const std::filesystem::path log = scratch / "fixture_script.log";
  command += " >'" + log.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  std::stringstream text;
  text << std::ifstream(log).rdbuf();
  if (output) *output = text.str();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

// Writes the fixture files of `command` ("layers", "unknown", or "unet" with its arguments) into `dir`; fails the
// test with the script's output when it fails.
inline void make_fixtures(const std::vector<std::string>& args, const std::filesystem::path& dir) {
  std::string output;
  const int status = run_fixture_script(args, dir, &output);
  REQUIRE_MESSAGE(status == 0, "make_keras_files.py failed: " << output);
}

// The narrowed seed U-Net the U-Net fixtures hold: 32x32x1 in, 2 classes, 8 filters at the first level.
constexpr int kUnetFilters = 8, kUnetClasses = 2, kUnetSize = 32;
inline std::vector<std::string> unet_args(const std::filesystem::path& weights, const std::filesystem::path& dir) {
  return {"unet", weights.string(), dir.string(), std::to_string(kUnetFilters), std::to_string(kUnetClasses),
          std::to_string(kUnetSize)};
}

inline Model narrow_unet(uint64_t seed, int filters = kUnetFilters, int depth = 4) {
  return unet({kUnetSize, kUnetSize, 1}, kUnetClasses, filters, depth, 0.5, false, seed);
}

// A narrowed seed U-Net drawn from `seed`, its weights file (dir/original.safetensors) and the Keras-layout files
// made from it in `dir`: unet_model.h5, unet_weights.h5, unet.keras, unet.weights.h5.
struct UnetFixture {
  testing::TempDir dir;
  Model model;
  explicit UnetFixture(uint64_t seed) : model(narrow_unet(seed)) {
    model.save_weights(dir / "original.safetensors");
    make_fixtures(unet_args(dir / "original.safetensors", dir.path()), dir.path());
  }
};

// Whether two tensors hold the same bits (shape and values).
inline bool identical(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype() || a.dtype() != DType::F32) return false;
  for (int64_t i = 0; i < a.numel(); ++i)
    if (a.data<float>()[i] != b.data<float>()[i]) return false;
  return true;
}

// Every weight of `a` equals (bit for bit) the weight of the same name in `b`, and they have the same weights.
inline void require_same_weights(const Model& a, const Model& b) {
  const std::vector<NamedTensor> wa = a.weight_tensors(), wb = b.weight_tensors();
  REQUIRE(wa.size() == wb.size());
  for (size_t i = 0; i < wa.size(); ++i) {
    INFO("weight " << wa[i].name);
    CHECK(wa[i].name == wb[i].name);
    CHECK(identical(wa[i].tensor, wb[i].tensor));
  }
}

}  // namespace tg::keras_test
