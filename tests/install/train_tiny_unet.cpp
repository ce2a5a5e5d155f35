// Trains a tiny U-Net through the installed tapegrad (find_package(tapegrad), tapegrad::tapegrad), writes its run
// folder, reloads the best checkpoint with no model code and checks that the reloaded model predicts exactly what
// the trained one does, and exports it as ONNX (the static library's ONNX and protobuf dependencies link). Exit
// status 0 when the validation loss fell, the reload matches and the ONNX file is written.
//
//   train_tiny_unet RUN_DIR
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <tapegrad/autograd/autograd.h>
#include <tapegrad/data/data.h>
#include <tapegrad/interop/onnx_export.h>
#include <tapegrad/layers/layers.h>
#include <tapegrad/train/fit.h>

using namespace tg;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: train_tiny_unet RUN_DIR\n");
    return 2;
  }
  // 24 images of 16x16: a bright square (class 1) on a dark, noisy background (class 0).
  const int64_t n = 24, size = 16;
  Tensor images({n, size, size, 1}), labels({n, size, size});
  Rng rng(7);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y0 = 2 + static_cast<int64_t>(rng.uniform(0, 6)), x0 = 2 + static_cast<int64_t>(rng.uniform(0, 6));
    for (int64_t y = 0; y < size; ++y)
      for (int64_t x = 0; x < size; ++x) {
        const bool inside = y >= y0 && y < y0 + 7 && x >= x0 && x < x0 + 7;
        const int64_t p = (i * size + y) * size + x;
        labels.data<float>()[p] = inside ? 1.0f : 0.0f;
        images.data<float>()[p] = static_cast<float>((inside ? 0.8 : 0.2) + 0.05 * rng.normal());
      }
  }
  auto all = std::make_shared<data::TensorDataset>(images, labels);

  Model model = unet({size, size, 1}, 2, /*base_filters=*/4, /*depth=*/2, /*dropout=*/0.0);
  train::FitOptions options;
  options.epochs = 3;
  options.batch_size = 4;
  options.seed = 1;
  options.validation_split = 0.25;
  options.optimizer = {{"name", "adam"}, {"learning_rate", 1e-2}};
  options.run_dir = argv[1];
  options.overwrite = true;
  options.console = false;
  options.progress = train::ProgressMode::Off;
  const train::FitResult result = train::fit(model, {all, {}}, nullptr, options);
  const double first = result.history.front().metrics.at("val_loss"), last = result.history.back().metrics.at("val_loss");
  std::printf("val_loss %.4f -> %.4f\n", first, last);

  Model reloaded = load_model(result.last_checkpoint);
  const Tensor expected = model.predict(images), got = reloaded.predict(images);
  const bool same = got.shape() == expected.shape() && std::memcmp(got.bytes(), expected.bytes(), got.nbytes()) == 0;
  std::printf("reloaded %s: %s\n", result.last_checkpoint.c_str(),
              same ? "predicts the same, bit for bit" : "predicts DIFFERENTLY");
  const std::filesystem::path onnx = std::filesystem::path(argv[1]) / "model.onnx";
  export_onnx(reloaded, onnx);
  const bool exported = std::filesystem::file_size(onnx) > 0;
  std::printf("exported %s: %zu bytes\n", onnx.c_str(), static_cast<size_t>(std::filesystem::file_size(onnx)));
  return last < first && same && exported ? 0 : 1;
}
