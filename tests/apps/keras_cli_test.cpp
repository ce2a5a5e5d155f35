// tapegrad import-keras, export-keras and train --init-from, run as a user would.
#include <doctest/doctest.h>

#include <cmath>

#include "layers/layers.h"
#include "tests/apps/cli_util.h"
#include "tests/interop/keras_test_util.h"

namespace tg::cli_test {
namespace {

TEST_CASE("cli keras: import-keras, export-keras and train --init-from continue from the Keras model's weights") {
  TG_NEED_H5PY();
  keras_test::UnetFixture f(21);
  const TempDir& dir = f.dir;
  const Model& original = f.model;
  const std::string imported = (dir / "imported.safetensors").string();

  Result r = run_cli({"import-keras", (dir / "unet_model.h5").string(), "--out", imported}, dir.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(contains(r.output, "Keras 2.12.0"));
  keras_test::require_same_weights(load_model(imported), original);

  // Weights only: the architecture must be given.
  r = run_cli({"import-keras", (dir / "unet_weights.h5").string(), "--out", (dir / "w.safetensors").string()},
              dir.path());
  CHECK(r.status == 1);
  CHECK(contains(r.output, "holds weights only"));
  CHECK(!fs::exists(dir / "w.safetensors"));

  // Out as Keras 3 weights and back in, with the architecture from the imported file.
  r = run_cli({"export-keras", imported, "--out", (dir / "unet_out.weights.h5").string()}, dir.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  r = run_cli({"import-keras", (dir / "unet_out.weights.h5").string(), "--arch", imported, "--out",
               (dir / "back.safetensors").string()},
              dir.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  keras_test::require_same_weights(load_model(dir / "back.safetensors"), original);

  // Training starts from the imported weights: two Adam steps of 1e-4 move no weight by more than 2e-4 (Adam's
  // step is at most about the learning rate), while a freshly drawn model differs from them by far more.
  const fs::path run = dir / "run";
  r = run_cli({"train", "--init-from", imported, "--epochs", "1", "--steps-per-epoch", "2", "--batch", "2", "--lr",
               "1e-4", "--progress", "none", "--out", run.string()},
              dir.path());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(read_json(run / "config.json").at("command").at("init_from") == fs::absolute(imported).string());
  const Model trained = load_model(run / "checkpoints" / "last.safetensors");
  const std::vector<NamedTensor> after = trained.weight_tensors(), before = original.weight_tensors();
  REQUIRE(after.size() == before.size());
  double largest = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    REQUIRE(after[i].name == before[i].name);
    for (int64_t k = 0; k < after[i].tensor.numel(); ++k)
      largest = std::max(largest, double(std::fabs(after[i].tensor.data<float>()[k] - before[i].tensor.data<float>()[k])));
  }
  CHECK(largest > 0);       // it trained
  CHECK(largest <= 2.1e-4); // from the imported weights

  r = run_cli({"train", "--init-from", imported, "--filters", "16", "--out", (dir / "run2").string()}, dir.path());
  CHECK(r.status == 2);
  CHECK(contains(r.output, "--filters"));
  CHECK(contains(r.output, "--init-from"));
}

}  // namespace
}  // namespace tg::cli_test
