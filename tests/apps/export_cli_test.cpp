// tapegrad export: a training checkpoint (or a zoo model) written as the ONNX file the library's export_onnx
// writes, in either layout; a missing checkpoint or an unwritable path is refused naming it.
#include <doctest/doctest.h>

#include "cli_util.h"
#include "interop/onnx_export.h"
#include "train/checkpoint.h"

using namespace tg::cli_test;

TEST_CASE("cli: export writes a training checkpoint's model as ONNX, NHWC or NCHW, as export_onnx does") {
  TempDir tmp;
  const fs::path run = tmp / "run";
  const Result trained = run_cli({"train", "--filters", "4", "--depth", "2", "--size", "32", "--batch", "8",
                                  "--classes", "3", "--epochs", "1", "--steps-per-epoch", "2", "--synthetic-count",
                                  "16", "--progress", "none", "--out", run.string()},
                                 tmp.path());
  REQUIRE_MESSAGE(trained.status == 0, trained.output);
  const fs::path checkpoint = run / "checkpoints" / "last.safetensors";
  tg::Model model = tg::train::load_trained_model(checkpoint);

  const fs::path nhwc = tmp / "model.onnx";
  Result r = run_cli({"export", "--checkpoint", checkpoint.string(), "--onnx", nhwc.string()}, tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(contains(r.output, "ONNX opset " + std::to_string(tg::kOnnxOpset)));
  CHECK(contains(r.output, "[batch, 32, 32, 1] (NHWC)"));
  CHECK(contains(r.output, "[batch, 32, 32, 3] (NHWC)"));
  CHECK(read_text(nhwc) == tg::onnx_model_bytes(model));

  const fs::path nchw = tmp / "model_nchw.onnx";
  r = run_cli({"export", "--checkpoint", checkpoint.string(), "--onnx", nchw.string(), "--nchw"}, tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(contains(r.output, "[batch, 1, 32, 32] (NCHW)"));
  CHECK(read_text(nchw) == tg::onnx_model_bytes(model, {.layout = tg::OnnxLayout::NCHW}));

  // Without a checkpoint: the zoo model the flags describe, freshly initialised (for benchmarks and deployment checks).
  const fs::path zoo = tmp / "zoo.onnx";
  r = run_cli({"export", "--model", "autoencoder", "--filters", "4", "--size", "16", "--onnx", zoo.string()},
              tmp.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(contains(r.output, "model 'seed_autoencoder'"));
  CHECK(fs::file_size(zoo) > 0);
}

TEST_CASE("cli: export names a missing checkpoint, an unreadable one and a path it cannot write") {
  TempDir tmp;
  const fs::path missing = tmp / "no_such.safetensors";
  Result r = run_cli({"export", "--checkpoint", missing.string(), "--onnx", (tmp / "a.onnx").string()}, tmp.path());
  CHECK(r.status == 2);
  CHECK(contains(r.output, missing.string()));

  const fs::path corrupt = tmp / "corrupt.safetensors";
  write_text(corrupt, "not a checkpoint");
  r = run_cli({"export", "--checkpoint", corrupt.string(), "--onnx", (tmp / "b.onnx").string()}, tmp.path());
  CHECK(r.status == 1);
  CHECK(contains(r.output, corrupt.string()));

  const fs::path unwritable = tmp / "no_such_folder" / "c.onnx";
  r = run_cli({"export", "--size", "16", "--filters", "2", "--depth", "1", "--onnx", unwritable.string()},
              tmp.path());
  CHECK(r.status == 1);
  CHECK(contains(r.output, unwritable.string()));

  r = run_cli({"export", "--size", "16"}, tmp.path());  // --onnx is required
  CHECK(r.status == 2);
  CHECK(contains(r.output, "--onnx"));
  CHECK(!fs::exists(tmp / "a.onnx"));
  CHECK(!fs::exists(tmp / "b.onnx"));
}
