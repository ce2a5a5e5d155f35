// The gradient's sum overlapping the backward pass (train/sharded_step.h): under `mpirun -np 2` with
// TAPEGRAD_MPI_OVERLAP=1, in buckets small enough that the small U-Net has several, the run ends with the weights
// of the same run without overlap (the default when, as here, every process shares one machine) and of one process
// summing the same parts, bit for bit, and the profile shows buckets handed to the communication thread while
// backward still ran. Skipped, saying so, when the build has no MPI or mpirun is absent.
#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>
#include <regex>

#include "tests/distributed/mpi_launch.h"
#include "tests/skip.h"

namespace tg::mpi_test {
namespace {

using testing::TempDir;

// An environment variable set for the processes this test starts (they inherit the test's environment), restored
// after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// 4 parts of 2 samples, 2 per process: the overlapped ranges finish a tree of two leaves before their sum. 17
// training samples: each epoch's last batch holds 1, in part 3, so rank 0's last part is empty (it hands over
// zeros without a backward pass) and rank 1's is not.
std::vector<std::string> overlap_run(const fs::path& out, const char* shards = "4") {
  return {"train", "--synthetic-count", "21", "--size", "48", "--filters", "8", "--depth", "2", "--batch", "8",
          "--epochs", "2", "--seed", "7", "--dropout", "0.5", "--augment", "--grad-shards", shards, "--profile", "3",
          "--progress", "none", "--out", out.string()};
}

fs::path overlap_last(const fs::path& run) { return run / "checkpoints" / "last.safetensors"; }

TEST_CASE("mpirun -np 2 overlapping the gradient's sum with backward gives the bits of no overlap and of one "
          "process" * doctest::test_suite("slow")) {
  if (!have_mpirun()) TG_SKIP_TEST("built without MPI or no mpirun (" << TAPEGRAD_MPIEXEC << ")");
  TempDir dir;
  const ScopedEnv buckets("TAPEGRAD_MPI_BUCKET_MB", "0.02");  // 20 KiB: the 8-filter U-Net's weights in several
  const Run one = run(0, overlap_run(dir / "one"), dir / "one.log");
  REQUIRE_MESSAGE(one.status == 0, one.output);
  std::optional<Run> on;
  {
    const ScopedEnv overlap("TAPEGRAD_MPI_OVERLAP", "1");
    on = run(2, overlap_run(dir / "on"), dir / "on.log");
  }
  REQUIRE_MESSAGE(on->status == 0, on->output);
  REQUIRE(on->output.find("on 17 samples") != std::string::npos);
  // Unset, the default: both processes share this machine, so the sum follows the backward pass.
  const Run off = run(2, overlap_run(dir / "off"), dir / "off.log");
  REQUIRE_MESSAGE(off.status == 0, off.output);
  check_same_tensors(overlap_last(dir / "off"), overlap_last(dir / "on"));
  check_same_tensors(overlap_last(dir / "one"), overlap_last(dir / "on"));

  // The overlap happened: buckets went to the communication thread before backward ended.
  const std::string profile = read_text(dir / "on" / "profile.txt");
  INFO(profile);
  std::smatch m;
  REQUIRE(std::regex_search(profile, m, std::regex(R"((\d+) buckets per step .*; (\d+) buckets handed to the )"
                                                   R"(communication thread before backward ended)")));
  const int per_step = std::stoi(m[1]), early = std::stoi(m[2]);
  CHECK(per_step > 2);
  CHECK(early > 0);
  const std::string off_profile = read_text(dir / "off" / "profile.txt");
  CHECK(off_profile.find("overlapped") == std::string::npos);
  CHECK(off_profile.find("Gradient sum after the backward pass, not during it") != std::string::npos);
}

// 6 parts, 3 per process: the last leaf arrives on a tree of levels (1, 0), so the overlapped ranges replay a merge
// of equal levels and then a finishing one (a + (b + c)). Not one process's tree (3 is not a power of two), but
// the same bits with and without overlap.
TEST_CASE("mpirun -np 2 overlapping with 3 parts per process replays the tree's finishing merges" *
          doctest::test_suite("slow")) {
  if (!have_mpirun()) TG_SKIP_TEST("built without MPI or no mpirun (" << TAPEGRAD_MPIEXEC << ")");
  TempDir dir;
  const ScopedEnv buckets("TAPEGRAD_MPI_BUCKET_MB", "0.02");
  std::optional<Run> on, off;
  {
    const ScopedEnv overlap("TAPEGRAD_MPI_OVERLAP", "1");
    on = run(2, overlap_run(dir / "on", "6"), dir / "on.log");
  }
  {
    const ScopedEnv no_overlap("TAPEGRAD_MPI_OVERLAP", "0");
    off = run(2, overlap_run(dir / "off", "6"), dir / "off.log");
  }
  REQUIRE_MESSAGE(on->status == 0, on->output);
  REQUIRE_MESSAGE(off->status == 0, off->output);
  CHECK(read_text(dir / "on" / "profile.txt").find("overlapped") != std::string::npos);
  check_same_tensors(overlap_last(dir / "off"), overlap_last(dir / "on"));
}

TEST_CASE("TAPEGRAD_MPI_OVERLAP and TAPEGRAD_MPI_BUCKET_MB refuse values they cannot mean, naming themselves" *
          doctest::test_suite("slow")) {
  if (!have_mpirun()) TG_SKIP_TEST("built without MPI or no mpirun (" << TAPEGRAD_MPIEXEC << ")");
  TempDir dir;
  {
    const ScopedEnv bad("TAPEGRAD_MPI_OVERLAP", "yes");  // 0, 1 and auto are the values it takes
    const Run r = run(2, overlap_run(dir / "a"), dir / "a.log");
    CHECK(r.status != 0);
    CHECK(r.output.find("TAPEGRAD_MPI_OVERLAP='yes'") != std::string::npos);
  }
  {
    const ScopedEnv bad("TAPEGRAD_MPI_BUCKET_MB", "-1");
    const Run r = run(2, overlap_run(dir / "b"), dir / "b.log");
    CHECK(r.status != 0);
    CHECK(r.output.find("TAPEGRAD_MPI_BUCKET_MB='-1'") != std::string::npos);
  }
}

}  // namespace
}  // namespace tg::mpi_test
