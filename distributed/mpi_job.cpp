// train::Collective over MPI. Every collective is started non-blocking and waited for with a deadline, so a
// process whose peer died stops with a message instead of waiting forever, and a waiting process sleeps instead of
// spinning (the cores belong to the processes still computing).
#if TAPEGRAD_HAVE_MPI
#include <mpi.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "distributed/mpi_job.h"
#include "train/signals.h"

namespace tg::distributed {

namespace {

using Clock = std::chrono::steady_clock;

// Elements per MPI call: counts are ints, and buckets of 4 Mi elements (32 MB of float64) keep every message well
// inside them while leaving MPI several messages to pipeline.
constexpr size_t kBucket = size_t{1} << 22;

double timeout_seconds() {
  const char* v = std::getenv("TAPEGRAD_MPI_TIMEOUT");
  if (!v || !*v) return 600.0;
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  if (*end != '\0' || !(s > 0))
    throw std::invalid_argument(std::string("TAPEGRAD_MPI_TIMEOUT='") + v + "' is not a positive number of seconds");
  return s;
}

class MpiCollective final : public train::Collective {
 public:
  MpiCollective() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      // Only the thread that calls fit talks to MPI (OpenMP and loader threads never do).
      if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        throw std::runtime_error("MPI_Init_thread failed");
      owns_mpi_ = true;
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    timeout_ = timeout_seconds();
  }
  ~MpiCollective() override {
    MPI_Comm_free(&comm_);
    if (owns_mpi_) MPI_Finalize();
  }
  MpiCollective(const MpiCollective&) = delete;
  MpiCollective& operator=(const MpiCollective&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void sum(std::span<double> values) override {
    // Two processes: a + b is b + a, so MPI's order cannot matter. More: a power of two sums in the fixed tree by
    // recursive doubling; other counts rely on MPI's order (see README, "Training on several processes").
    const bool tree = size_ > 2 && std::has_single_bit(static_cast<unsigned>(size_));
    for (size_t at = 0; at < values.size(); at += kBucket) {
      std::span<double> bucket = values.subspan(at, std::min(kBucket, values.size() - at));
      if (tree)
        tree_sum(bucket);
      else
        allreduce(bucket.data(), bucket.size(), MPI_DOUBLE, MPI_SUM, "the gradient sum");
    }
  }
  void sum(std::span<int64_t> values) override {
    for (size_t at = 0; at < values.size(); at += kBucket)
      allreduce(values.data() + at, std::min(kBucket, values.size() - at), MPI_INT64_T, MPI_SUM, "a count sum");
  }
  void max(std::span<int64_t> values) override {
    for (size_t at = 0; at < values.size(); at += kBucket)
      allreduce(values.data() + at, std::min(kBucket, values.size() - at), MPI_INT64_T, MPI_MAX,
                "the vote at the end of a step");
  }
  void broadcast(std::span<std::byte> bytes, int root) override {
    for (size_t at = 0; at < bytes.size(); at += kBucket) {
      MPI_Request request;
      MPI_Ibcast(bytes.data() + at, static_cast<int>(std::min(kBucket, bytes.size() - at)), MPI_BYTE, root, comm_,
                 &request);
      wait(&request, 1, "a broadcast of the batch-normalisation statistics");
    }
  }

 private:
  void allreduce(void* data, size_t count, MPI_Datatype type, MPI_Op op, const char* what) {
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(count), type, op, comm_, &request);
    wait(&request, 1, what);
  }

  // Recursive doubling: at distance d = 1, 2, 4, ... each process swaps its sum with rank ^ d and both form
  // lower + upper, so after log2(size) rounds every process holds ((r0 + r1) + (r2 + r3)) + ..., the same bits.
  void tree_sum(std::span<double> values) {
    scratch_.resize(values.size());
    for (int d = 1; d < size_; d <<= 1) {
      const int partner = rank_ ^ d;
      MPI_Request requests[2];
      MPI_Irecv(scratch_.data(), static_cast<int>(values.size()), MPI_DOUBLE, partner, d, comm_, &requests[0]);
      MPI_Isend(values.data(), static_cast<int>(values.size()), MPI_DOUBLE, partner, d, comm_, &requests[1]);
      wait(requests, 2, "the gradient sum");
      const bool lower = rank_ < partner;
      for (size_t i = 0; i < values.size(); ++i)
        values[i] = lower ? values[i] + scratch_[i] : scratch_[i] + values[i];
    }
  }

  void wait(MPI_Request* requests, int count, const char* what) {
    const auto start = Clock::now();
    bool told_signal = false;
    for (int polls = 0;; ++polls) {
      int done = 0;
      MPI_Testall(count, requests, &done, MPI_STATUSES_IGNORE);
      if (done) return;
      const double waited = std::chrono::duration<double>(Clock::now() - start).count();
      if (waited > timeout_)
        abort_job(*this,
                  "no answer from the other processes for " + std::to_string(static_cast<int>(timeout_)) +
                      " s while waiting for " + what + "; one has probably died or hangs. Stopping every process; "
                      "the last checkpoint stays as it was (resume with --resume). TAPEGRAD_MPI_TIMEOUT sets the wait",
                  1);
      if (!told_signal && train::stop_requested() && waited > 1.0) {
        told_signal = true;
        std::fprintf(stderr,
                     "tapegrad: rank %d of %d: %s while waiting for %s: another process has probably died and the "
                     "launcher is ending the job; the last checkpoint stays as it was\n",
                     rank_, size_, train::signal_name(train::stop_signal()), what);
      }
      // Spin briefly (the answer is usually microseconds away), then sleep, longer as the wait goes on.
      if (polls > 2000)
        std::this_thread::sleep_for(std::chrono::microseconds(polls > 20000 ? 1000 : 50));
    }
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false;
  double timeout_ = 600.0;
  std::vector<double> scratch_;
};

}  // namespace

bool built_with_mpi() { return true; }

std::shared_ptr<train::Collective> join_job() {
  if (launched_processes() <= 1) return nullptr;
  return std::make_shared<MpiCollective>();
}

void abort_job(const train::Collective& group, const std::string& message, int exit_code) {
  std::fprintf(stderr, "tapegrad: rank %d of %d: %s\n", group.rank(), group.size(), message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);  // MPI_Abort does not return; this is for the compiler
}

}  // namespace tg::distributed
#endif
