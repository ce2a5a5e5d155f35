// `tapegrad train --sync-bn`: BatchNormalization over the whole global batch. On one process it changes nothing
// (one batch already holds every sample); under `mpirun -np 2` the statistics are one process's, bit for bit, and
// the weights follow one process's run within rounding (each process's pass over its half reduces the weight
// gradients in another order than one pass over the whole batch). Without --sync-bn the two differ plainly.
// The mpirun cases are skipped, saying so, when the build has no MPI or mpirun is absent.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "tests/distributed/mpi_launch.h"
#include "tests/skip.h"

namespace tg::mpi_test {
namespace {

using testing::TempDir;

// A small U-Net with BatchNormalization, 16 training samples in batches of 4, SGD: Adam would turn the rounding
// noise in the zero gradient of the biases that feed a BatchNormalization (which removes them) into steps of the
// full learning rate. Without dropout by default: its masks are drawn per part of the batch, so a run with dropout
// compares with one process running the same parts (--grad-shards 2).
std::vector<std::string> bn_run(const fs::path& out, std::vector<std::string> extra, const std::string& batch = "4") {
  std::vector<std::string> a = {"train", "--synthetic-count", "20", "--size", "32", "--filters", "4", "--depth", "2",
                                "--batch-norm", "--batch", batch, "--seed", "3", "--optimizer",
                                "sgd", "--lr", "0.05", "--progress", "none", "--out", out.string()};
  a.insert(a.end(), extra.begin(), extra.end());
  if (std::find(a.begin(), a.end(), "--dropout") == a.end()) a.insert(a.end(), {"--dropout", "0"});
  return a;
}

fs::path last_checkpoint(const fs::path& run) { return run / "checkpoints" / "last.safetensors"; }

void train_run(int processes, const fs::path& out, const std::vector<std::string>& extra) {
  const Run r = run(processes, bn_run(out, extra), out.string() + ".log");
  REQUIRE_MESSAGE(r.status == 0, r.output);
}

// The largest difference between the two checkpoints' model tensors (weights and moving statistics) as a fraction
// of the largest weight's magnitude, with the tensor it is in.
std::pair<double, std::string> largest_difference(const fs::path& a, const fs::path& b) {
  const SafetensorsFile x = load_safetensors(a), y = load_safetensors(b);
  REQUIRE(x.tensors.size() == y.tensors.size());
  double largest = 0.0, scale = 0.0;
  std::string where;
  for (size_t i = 0; i < x.tensors.size(); ++i) {
    if (x.tensors[i].name.rfind("optimizer/", 0) == 0) continue;
    const Tensor& s = x.tensors[i].tensor;
    const Tensor& t = y.tensors[i].tensor;
    REQUIRE(s.shape() == t.shape());
    for (int64_t e = 0; e < s.numel(); ++e) {
      scale = std::max(scale, std::fabs(s.flat(e)));
      if (const double d = std::fabs(s.flat(e) - t.flat(e)); d > largest) {
        largest = d;
        where = x.tensors[i].name;
      }
    }
  }
  return {largest / scale, where};
}

// Whether the checkpoints' moving statistics hold the same bits.
void check_same_moving_statistics(const fs::path& a, const fs::path& b) {
  const SafetensorsFile x = load_safetensors(a), y = load_safetensors(b);
  int compared = 0;
  for (size_t i = 0; i < x.tensors.size(); ++i) {
    const std::string& name = x.tensors[i].name;
    if (name.find("moving_") == std::string::npos || name.rfind("optimizer/", 0) == 0) continue;
    INFO(name);
    const Tensor& s = x.tensors[i].tensor;
    const Tensor& t = y.tensors[i].tensor;
    CHECK(std::equal(s.bytes(), s.bytes() + s.nbytes(), t.bytes(), t.bytes() + t.nbytes()));
    ++compared;
  }
  CHECK(compared == 20);  // 10 BatchNormalization layers
}

TEST_CASE("--sync-bn on one process: nothing changes with one part, nor with the parts run as one pass") {
  TempDir dir;
  train_run(0, dir / "plain", {"--epochs", "2"});
  train_run(0, dir / "sync", {"--epochs", "2", "--sync-bn"});
  check_same_tensors(last_checkpoint(dir / "plain"), last_checkpoint(dir / "sync"));
  // --grad-shards 2 --sync-bn: one pass, each part's loss weighted by its samples; its statistics combine the
  // parts' moments, which is the whole batch's within float64 rounding.
  train_run(0, dir / "parts", {"--epochs", "2", "--sync-bn", "--grad-shards", "2"});
  const auto [difference, where] = largest_difference(last_checkpoint(dir / "plain"), last_checkpoint(dir / "parts"));
  CHECK_MESSAGE(difference <= 1e-6, where);
  const nlohmann::json config = nlohmann::json::parse(read_text(dir / "parts" / "config.json"));
  CHECK(config.at("command").at("sync_bn") == true);
  CHECK(config.at("fit").at("sync_batch_norm") == true);
  // A resumed run keeps it, like every setting that decides the numbers.
  const Run resumed = run(0, {"train", "--resume", (dir / "plain").string(), "--sync-bn", "--epochs", "3"},
                          dir / "resume.log");
  CHECK(resumed.status == 2);
  CHECK(resumed.output.find("--sync-bn: cannot change a run being resumed") != std::string::npos);
}

TEST_CASE("mpirun -np 2 --sync-bn: one process's statistics, bit for bit, and its weights within rounding" *
          doctest::test_suite("slow")) {
  if (!have_mpirun()) TG_SKIP_TEST("built without MPI or no mpirun (" << TAPEGRAD_MPIEXEC << ")");
  TempDir dir;
  // One step from the same weights: each process's half gives the same per-part moments as one process holding
  // both parts, combined in the same order, so the moving statistics hold the same bits.
  train_run(0, dir / "one_step", {"--epochs", "1", "--steps-per-epoch", "1", "--sync-bn", "--grad-shards", "2"});
  train_run(2, dir / "one_step2", {"--epochs", "1", "--steps-per-epoch", "1", "--sync-bn"});
  check_same_moving_statistics(last_checkpoint(dir / "one_step"), last_checkpoint(dir / "one_step2"));

  // 3 epochs of 4 steps. Every step the ranks' moving statistics are checked against rank 0's (fit stops with an
  // error when they differ), so a finished run is one model on both ranks.
  train_run(0, dir / "one", {"--epochs", "3"});  // the whole batch in one pass
  train_run(2, dir / "sync", {"--epochs", "3", "--sync-bn"});
  train_run(2, dir / "again", {"--epochs", "3", "--sync-bn"});
  train_run(2, dir / "local", {"--epochs", "3"});
  check_same_tensors(last_checkpoint(dir / "sync"), last_checkpoint(dir / "again"));  // deterministic
  const auto [synced, where] = largest_difference(last_checkpoint(dir / "one"), last_checkpoint(dir / "sync"));
  const auto [local, local_where] = largest_difference(last_checkpoint(dir / "one"), last_checkpoint(dir / "local"));
  MESSAGE("--sync-bn on 2 processes vs 1: " << synced << " of the largest weight (" << where << "); without: "
                                            << local << " (" << local_where << ")");
  CHECK(synced <= 1e-6);
  CHECK(local > 1e-3);  // each process's own statistics: another model

  // With dropout each part's masks are its own, whoever runs it: 2 processes follow one running both parts.
  train_run(0, dir / "one_dropout", {"--epochs", "3", "--dropout", "0.5", "--sync-bn", "--grad-shards", "2"});
  train_run(2, dir / "sync_dropout", {"--epochs", "3", "--dropout", "0.5", "--sync-bn"});
  const auto [dropout, dropout_where] =
      largest_difference(last_checkpoint(dir / "one_dropout"), last_checkpoint(dir / "sync_dropout"));
  CHECK_MESSAGE(dropout <= 1e-6, dropout << " in " << dropout_where);
  const std::string log = read_text(dir / "sync" / "log.txt");
  CHECK(log.find("BatchNormalization takes the whole batch's statistics") != std::string::npos);
}

TEST_CASE("mpirun -np 2 --sync-bn refuses batches that would leave a process without samples" *
          doctest::test_suite("slow")) {
  if (!have_mpirun()) TG_SKIP_TEST("built without MPI or no mpirun (" << TAPEGRAD_MPIEXEC << ")");
  TempDir dir;
  // 16 training samples in batches of 5: the last batch holds 1
  const Run r = run(2, bn_run(dir / "odd", {"--sync-bn"}, "5"), dir / "odd.log");
  CHECK(r.status == 1);
  CHECK(r.output.find("--sync-bn") != std::string::npos);
  CHECK(r.output.find("the last batch of an epoch holds 1 of the 16 training samples") != std::string::npos);
}

}  // namespace
}  // namespace tg::mpi_test
