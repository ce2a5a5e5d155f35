#include <doctest/doctest.h>

#include <cstring>
#include <fstream>

#include "train/checkpoint.h"
#include "tests/temp_dir.h"

using namespace tg;
using namespace tg::train;
namespace fs = std::filesystem;

namespace {
Checkpoint sample(int64_t step) {
  Checkpoint c;
  Tensor w({3, 2});
  for (int64_t i = 0; i < w.numel(); ++i) w.set_flat(i, 0.1 * i + step);
  c.tensors = {{"conv2d/kernel", w}, {"optimizer/conv2d/kernel/m", Tensor::full({3, 2}, 1.0 / 3.0, DType::F64)}};
  c.model_config = {{"name", "unet"}, {"layers", {1, 2, 3}}};
  c.state = {{"global_step", step}, {"best", "inf"}, {"rng", {{"seed", 18446744073709551615ULL}, {"counter", 7}}}};
  return c;
}
void flip_byte(const fs::path& p, std::streamoff from_end) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(-from_end, std::ios::end);
  char b = 0;
  f.read(&b, 1);
  f.seekp(-from_end, std::ios::end);
  b ^= 0x10;
  f.write(&b, 1);
}
}  // namespace

TEST_CASE("checkpoint: round trip keeps tensors bit for bit, config and state exactly") {
  const tg::testing::TempDir tmp;
  const fs::path d = tmp.path();
  const Checkpoint c = sample(5);
  save_checkpoint(d / "a.safetensors", c);
  const Checkpoint back = load_checkpoint(d / "a.safetensors");
  REQUIRE(back.tensors.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(back.tensors[i].name == c.tensors[i].name);
    CHECK(back.tensors[i].tensor.dtype() == c.tensors[i].tensor.dtype());
    CHECK(std::memcmp(back.tensors[i].tensor.bytes(), c.tensors[i].tensor.bytes(), c.tensors[i].tensor.nbytes()) == 0);
  }
  CHECK(back.model_config == c.model_config);
  CHECK(back.state == c.state);
  CHECK(back.state["rng"]["seed"].get<uint64_t>() == 18446744073709551615ULL);
}

TEST_CASE("checkpoint: damaged, truncated, missing and non-checkpoint files give clear errors") {
  const tg::testing::TempDir tmp;
  const fs::path d = tmp.path();
  save_checkpoint(d / "c.safetensors", sample(1));
  flip_byte(d / "c.safetensors", 3);  // inside the tensor data
  CHECK_THROWS_WITH_AS(load_checkpoint(d / "c.safetensors"), doctest::Contains("checkpoint is corrupt: its checksum"),
                       CheckpointError);

  save_checkpoint(d / "t.safetensors", sample(1));
  fs::resize_file(d / "t.safetensors", fs::file_size(d / "t.safetensors") - 10);
  CHECK_THROWS_WITH_AS(load_checkpoint(d / "t.safetensors"), doctest::Contains("truncated"), CheckpointError);

  CHECK_THROWS_WITH_AS(load_checkpoint(d / "none.safetensors"), doctest::Contains("none.safetensors"), CheckpointError);

  save_safetensors(d / "weights.safetensors", {{"w", Tensor({2})}});
  CHECK_THROWS_WITH_AS(load_checkpoint(d / "weights.safetensors"),
                       doctest::Contains("not a tapegrad training checkpoint"), CheckpointError);
}

TEST_CASE("checkpoint: a run keeps the last K step files plus last and best, and resumes from the newest") {
  const tg::testing::TempDir tmp;
  const RunDir run(tmp.path());
  write_run_checkpoint(run, sample(10), 10, /*best=*/true, 2);
  write_run_checkpoint(run, sample(20), 20, false, 2);
  write_run_checkpoint(run, sample(30), 30, false, 2);
  const auto steps = run.step_checkpoints();
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].first == 20);
  CHECK(steps[1].first == 30);
  CHECK(load_checkpoint(run.last_checkpoint()).state["global_step"] == 30);
  CHECK(load_checkpoint(run.best_checkpoint()).state["global_step"] == 10);  // its step file is gone; best stays
  CHECK(load_latest_checkpoint(run).state["global_step"] == 30);

  // The newest file damaged: resume falls back to the previous one and says why.
  flip_byte(run.step_checkpoint(30), 1);
  if (!fs::equivalent(run.step_checkpoint(30), run.last_checkpoint())) flip_byte(run.last_checkpoint(), 1);
  std::vector<std::string> skipped;
  CHECK(load_latest_checkpoint(run, &skipped).state["global_step"] == 20);
  REQUIRE(skipped.size() >= 1);
  CHECK(skipped[0].find("step-00000030") != std::string::npos);
}

TEST_CASE("checkpoint: keep_last 0 writes only last/best, leftovers of a killed writer are cleaned up") {
  const tg::testing::TempDir tmp;
  const RunDir run(tmp.path());
  write_run_checkpoint(run, sample(1), 1, true, 0);
  write_run_checkpoint(run, sample(2), 2, false, 0);
  CHECK(run.step_checkpoints().empty());
  CHECK(load_checkpoint(run.last_checkpoint()).state["global_step"] == 2);
  CHECK(load_checkpoint(run.best_checkpoint()).state["global_step"] == 1);
  std::ofstream(run.checkpoints() / ".last.safetensors.tmp-abc123") << "half a file";
  remove_stale_temporaries(run);
  CHECK_FALSE(fs::exists(run.checkpoints() / ".last.safetensors.tmp-abc123"));
  CHECK_THROWS_WITH_AS(load_latest_checkpoint(RunDir(run.root / "elsewhere")), doctest::Contains("no checkpoint in"),
                       CheckpointError);
}
