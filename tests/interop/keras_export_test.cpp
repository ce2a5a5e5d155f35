// Keras files out: the Keras 3 .weights.h5 that export writes, read back with h5py against Keras's layout, and the
// round trip import -> export -> import.
#include <doctest/doctest.h>

#include "interop/keras.h"
#include "layers/layers.h"
#include "tests/interop/keras_test_util.h"
#include "tests/temp_dir.h"

namespace tg {
namespace {

using testing::TempDir;

std::string export_error(const Model& model, const std::filesystem::path& path) {
  try {
    interop::export_keras_weights(model, path);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_CASE("keras export: the seed U-Net as Keras 3 writes it, checked with h5py, and import, export, import is exact") {
  TG_NEED_H5PY();
  keras_test::UnetFixture f(5);
  const testing::TempDir& dir = f.dir;
  const Model& original = f.model;

  interop::KerasImport first = interop::import_keras_model(dir / "unet_model.h5");
  interop::export_keras_weights(first.model, dir / "exported.weights.h5");
  std::string report;
  const int status = keras_test::run_fixture_script(
      {"check-export", (dir / "exported.weights.h5").string(), (dir / "original.safetensors").string(),
       std::to_string(keras_test::kUnetFilters), std::to_string(keras_test::kUnetClasses),
       std::to_string(keras_test::kUnetSize)},
      dir.path(), &report);
  CHECK_MESSAGE(status == 0, report);

  Model second = keras_test::narrow_unet(6);
  interop::load_keras_weights(second, dir / "exported.weights.h5");
  keras_test::require_same_weights(second, first.model);
  keras_test::require_same_weights(second, original);

  // Nothing but the file itself is left in the folder (written to a temporary file, then renamed).
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    entries += e.path().filename().string().find("exported") != std::string::npos;
  CHECK(entries == 1);
}

TEST_CASE("keras export: BatchNormalization's four tensors and Conv2DTranspose kernels round-trip") {
  TempDir dir;
  auto x = Input({8, 8, 3});
  auto y = Conv2D(4, 3).padding("same")(x);
  y = BatchNormalization()(y);
  y = Conv2DTranspose(5, {2, 3}).strides({2, 2}).padding("same")(y);
  Model model(x, y, 3);
  for (Weight w : model.weights()) {  // distinct values everywhere, BN's statistics included (shared storage)
    Tensor& t = w.variable.value();
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 0.25f + 0.01f * float(i) + float(w.name.size());
  }
  interop::export_keras_weights(model, dir / "m.weights.h5");
  auto x2 = Input({8, 8, 3});
  auto y2 = Conv2D(4, 3).padding("same")(x2);
  y2 = BatchNormalization()(y2);
  y2 = Conv2DTranspose(5, {2, 3}).strides({2, 2}).padding("same")(y2);
  Model back(x2, y2, 4);
  interop::load_keras_weights(back, dir / "m.weights.h5");
  keras_test::require_same_weights(back, model);
}

TEST_CASE("keras export: refuses names Keras would not load, and leaves nothing behind on failure") {
  TempDir dir;
  const Model model = unet({16, 16, 1}, 2, 2, 2, 0.0, false, 1);
  CHECK(export_error(model, dir / "m.h5").find("end in .weights.h5") != std::string::npos);
  const std::string e = export_error(model, dir / "missing" / "m.weights.h5");
  CHECK(e.find("m.weights.h5") != std::string::npos);
  CHECK(std::filesystem::is_empty(dir.path()));
}

}  // namespace
}  // namespace tg
