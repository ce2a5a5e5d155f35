// `tapegrad train` under `mpirun -np 2`: the same weights as one process summing the same two gradient parts, bit
// for bit; a resume on 2 processes and from 2 processes to 1; SIGINT on one rank stopping both at one step; a rank
// killed with SIGKILL ending the job with a message within a bounded time and leaving a resumable checkpoint.
// Skipped, saying so, when the build has no MPI or mpirun is absent.
#include <doctest/doctest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <utility>

#include "tests/distributed/mpi_launch.h"
#include "tests/skip.h"

namespace tg::mpi_test {
namespace {

using testing::TempDir;

// A small U-Net with dropout (the masks must follow the samples, not the ranks) and no batch normalisation (its
// batch statistics are each process's own), on the synthetic set with its validation split, 4 samples a batch.
std::vector<std::string> small_run(const fs::path& out, int epochs, bool resume = false) {
  std::vector<std::string> a;
  if (resume) {
    a = {"train", "--resume", out.string(), "--epochs", std::to_string(epochs)};
  } else {
    a = {"train", "--synthetic-count", "64", "--size", "48", "--filters", "8", "--depth", "2", "--batch", "4",
         "--epochs", std::to_string(epochs), "--seed", "5", "--dropout", "0.5", "--augment", "--checkpoint-every", "2",
         "--out", out.string()};
  }
  a.push_back("--progress");
  a.push_back("none");
  return a;
}

fs::path last(const fs::path& run) { return run / "checkpoints" / "last.safetensors"; }

nlohmann::json history(const fs::path& run) {
  nlohmann::json h = nlohmann::json::array();
  std::istringstream in(read_text(run / "metrics.jsonl"));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) {
      nlohmann::json r = nlohmann::json::parse(line);
      r.erase("seconds");  // wall time
      h.push_back(r);
    }
  return h;
}

// Starts the small run on 2 processes and waits for its checkpoint of global step `step`, so that what follows lands
// mid-run; returns mpirun's pid and rank 1's.
std::pair<pid_t, pid_t> start_two_ranks(const fs::path& run, const fs::path& log, int step) {
  const pid_t launcher = spawn(2, small_run(run, 3), log);
  char name[32];
  std::snprintf(name, sizeof name, "step-%08d.safetensors", step);
  REQUIRE(wait_for_file(run / "checkpoints" / name));
  pid_t rank1 = 0;
  for (int i = 0; i < 500 && rank1 == 0; ++i, std::this_thread::sleep_for(std::chrono::milliseconds(10)))
    rank1 = rank_pid(launcher, 1);
  REQUIRE(rank1 > 0);
  return {launcher, rank1};
}

// The reference: one process computing each batch's gradient from 2 parts, 3 epochs.
struct Reference {
  TempDir dir;
  fs::path run = dir / "one";
  Reference() {
    std::vector<std::string> args = small_run(run, 3);
    args.insert(args.end(), {"--grad-shards", "2"});
    const Run r = mpi_test::run(0, args, dir / "one.log");
    REQUIRE_MESSAGE(r.status == 0, r.output);
  }
};

TEST_CASE("mpirun -np 2 ends with the weights of one process summing the same 2 parts" * doctest::test_suite("slow")) {
  if (!have_mpirun()) TG_SKIP_TEST("built without MPI or no mpirun (" << TAPEGRAD_MPIEXEC << ")");
  Reference ref;
  const fs::path two = ref.dir / "two";
  const Run r = run(2, small_run(two, 3), ref.dir / "two.log");
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(r.output.find("2 parts of 2 samples, 1 per process") != std::string::npos);
  check_same_tensors(last(ref.run), last(two));
  CHECK(history(ref.run) == history(two));  // training and validation metrics, reduced over the ranks
  // rank 0 alone wrote the run folder: one log, and its lines once
  const std::string log = read_text(two / "log.txt");
  CHECK(log.find("Finished 3 epochs") == log.rfind("Finished 3 epochs"));
  const nlohmann::json config = nlohmann::json::parse(read_text(two / "config.json"));
  CHECK(config.at("command").at("grad_shards") == 2);
}

// 12 samples a batch, 2 epochs of 3 steps, dropout and augmentation on; the run folder follows "--out".
std::vector<std::string> batches_of_12() {
  return {"train", "--synthetic-count", "48", "--size", "32", "--filters", "4", "--depth", "2", "--batch", "12",
          "--epochs", "2", "--seed", "3", "--dropout", "0.5", "--augment", "--progress", "none", "--out"};
}

TEST_CASE("mpirun -np 4 sums by recursive doubling in the tree's order and equals one process with 4 parts" *
          doctest::test_suite("slow")) {
  if (!have_mpirun()) TG_SKIP_TEST("built without MPI or no mpirun (" << TAPEGRAD_MPIEXEC << ")");
  TempDir dir;
  // 4 parts of 3 (an odd part size: each leaf is 3 x its gradient)
  const std::vector<std::string> args = batches_of_12();
  std::vector<std::string> one = args, four = args;
  one.insert(one.end(), {(dir / "one").string(), "--grad-shards", "4"});
  four.push_back((dir / "four").string());
  const Run a = run(0, one, dir / "one.log");
  REQUIRE_MESSAGE(a.status == 0, a.output);
  const Run b = run(4, four, dir / "four.log");
  REQUIRE_MESSAGE(b.status == 0, b.output);
  check_same_tensors(last(dir / "one"), last(dir / "four"));
  CHECK(history(dir / "one") == history(dir / "four"));
}

TEST_CASE("mpirun -np 3 sums along the one-process tree and equals one process with 3 and with 6 parts" *
          doctest::test_suite("slow")) {
  if (!have_mpirun()) TG_SKIP_TEST("built without MPI or no mpirun (" << TAPEGRAD_MPIEXEC << ")");
  TempDir dir;
  // 1 and 2 parts per process, both powers of two; (r0 + r1) + r2 is not MPI_Allreduce's order
  const std::vector<std::string> args = batches_of_12();
  for (const char* shards : {"3", "6"}) {
    INFO("--grad-shards " << shards);
    const std::string name = std::string("s") + shards;
    std::vector<std::string> one = args, three = args;
    one.insert(one.end(), {(dir / (name + "one")).string(), "--grad-shards", shards});
    three.insert(three.end(), {(dir / (name + "three")).string(), "--grad-shards", shards});
    const Run a = run(0, one, dir / (name + "one.log"));
    REQUIRE_MESSAGE(a.status == 0, a.output);
    const Run b = run(3, three, dir / (name + "three.log"));
    REQUIRE_MESSAGE(b.status == 0, b.output);
    CHECK(b.output.find("not a power of two") == std::string::npos);
    check_same_tensors(last(dir / (name + "one")), last(dir / (name + "three")));
    CHECK(history(dir / (name + "one")) == history(dir / (name + "three")));
  }
}

TEST_CASE("parts per process that are not a power of two are trained, with a warning naming --grad-shards" *
          doctest::test_suite("slow")) {
  if (!have_mpirun()) TG_SKIP_TEST("built without MPI or no mpirun (" << TAPEGRAD_MPIEXEC << ")");
  TempDir dir;
  const Run r = run(2, {"train", "--synthetic-count", "24", "--size", "32", "--filters", "4", "--depth", "2",
                        "--batch", "12", "--grad-shards", "6", "--epochs", "1", "--steps-per-epoch", "1",
                        "--progress", "none", "--out", (dir / "run").string()},
                    dir / "run.log");
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(r.output.find("gradient_shards (--grad-shards) 6 over 2 processes gives each 3 parts, not a power of two") !=
        std::string::npos);
  CHECK(r.output.find("e.g. 4 or 8") != std::string::npos);
}

TEST_CASE("SIGINT to one rank stops both at one step, and the run resumes on 2 ranks and from 2 ranks to 1" *
          doctest::test_suite("slow")) {
  if (!have_mpirun()) TG_SKIP_TEST("built without MPI or no mpirun (" << TAPEGRAD_MPIEXEC << ")");
  Reference ref;
  const fs::path stopped = ref.dir / "stopped";
  const auto [launcher, rank1] = start_two_ranks(stopped, ref.dir / "stopped.log", 2);
  REQUIRE(::kill(rank1, SIGINT) == 0);  // rank 1 alone: it must tell rank 0, which owns the checkpoints
  const int status = wait_exit(launcher, 300);
  const std::string output = read_text(ref.dir / "stopped.log");
  INFO(output);
  REQUIRE(status == 130);
  CHECK(output.find("Stopped by SIGINT") != std::string::npos);
  const nlohmann::json meta = nlohmann::json::parse(load_safetensors(last(stopped)).metadata.at("tapegrad.train"));
  const int64_t stopped_at = meta.at("global_step").get<int64_t>();
  CHECK(stopped_at > 2);
  CHECK(stopped_at < 39);  // stopped mid-run (3 epochs of 13 steps)

  // Resume the stopped run on 2 processes, and a copy of it on 1.
  const fs::path copy = ref.dir / "copy";
  fs::copy(stopped, copy, fs::copy_options::recursive);
  const Run two = run(2, small_run(stopped, 3, true), ref.dir / "resume2.log");
  REQUIRE_MESSAGE(two.status == 0, two.output);
  check_same_tensors(last(ref.run), last(stopped));
  const Run one = run(0, small_run(copy, 3, true), ref.dir / "resume1.log");
  REQUIRE_MESSAGE(one.status == 0, one.output);
  check_same_tensors(last(ref.run), last(copy));
  CHECK(history(ref.run) == history(copy));
}

TEST_CASE("a rank killed with SIGKILL ends the job within a bounded time and the last checkpoint resumes" *
          doctest::test_suite("slow")) {
  if (!have_mpirun()) TG_SKIP_TEST("built without MPI or no mpirun (" << TAPEGRAD_MPIEXEC << ")");
  Reference ref;
  const fs::path killed = ref.dir / "killed";
  const auto [launcher, rank1] = start_two_ranks(killed, ref.dir / "killed.log", 4);
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(::kill(rank1, SIGKILL) == 0);
  const int status = wait_exit(launcher, 60);  // -1: still running after a minute
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string output = read_text(ref.dir / "killed.log");
  INFO(output);
  CHECK(status > 0);
  CHECK(seconds < 60);
  CHECK(output.find("rank 1") != std::string::npos);  // mpirun names the process that died
  CHECK(output.find("Finished 3 epochs") == std::string::npos);
  // Whatever instant the kill came at, the last checkpoint is complete; resumed (here on 1 process) the run ends
  // with the uninterrupted run's weights.
  const Run resumed = run(0, small_run(killed, 3, true), ref.dir / "resumed.log");
  REQUIRE_MESSAGE(resumed.status == 0, resumed.output);
  check_same_tensors(last(ref.run), last(killed));
}

}  // namespace
}  // namespace tg::mpi_test
