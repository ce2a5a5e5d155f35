// train::Collective over MPI. The collectives are MPI's blocking calls (which keep the transfer moving while they
// wait); a watchdog thread, armed around each of them, ends a process whose peer died instead of letting it wait
// forever. It makes no MPI call itself: it reports and exits, and the launcher, seeing a process fail, ends the
// others.
#if TAPEGRAD_HAVE_MPI
#include <mpi.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <condition_variable>
#include <mutex>
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

// Watches the collective the main thread is in: past the deadline it reports the rank and what it waited for, and
// exits; a SIGINT/SIGTERM arriving meanwhile is reported at once (the usual sign that mpirun is ending the job
// after a process died).
class Watchdog {
 public:
  Watchdog(int rank, int size, double timeout)
      : rank_(rank), size_(size), timeout_(timeout), thread_([this] { run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void arm(const char* what) {
    std::lock_guard lock(mu_);
    what_ = what;
    since_ = Clock::now();
    told_signal_ = false;
  }
  void disarm() {
    std::lock_guard lock(mu_);
    what_ = nullptr;
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    while (!quit_) {
      cv_.wait_for(lock, std::chrono::milliseconds(250));
      if (quit_ || !what_) continue;
      const double waited = std::chrono::duration<double>(Clock::now() - since_).count();
      if (waited > timeout_) {
        std::fprintf(stderr,
                     "tapegrad: rank %d of %d: no answer from the other processes for %.0f s while waiting for %s; "
                     "one has probably died or hangs. Stopping; the last checkpoint stays as it was (resume with "
                     "--resume). TAPEGRAD_MPI_TIMEOUT sets the wait in seconds\n",
                     rank_, size_, timeout_, what_);
        std::fflush(stderr);
        std::_Exit(1);
      }
      if (!told_signal_ && train::stop_requested() && waited > 1.0) {
        told_signal_ = true;
        std::fprintf(stderr,
                     "tapegrad: rank %d of %d: %s while waiting for %s: another process has probably died and the "
                     "launcher is ending the job; the last checkpoint stays as it was\n",
                     rank_, size_, train::signal_name(train::stop_signal()), what_);
      }
    }
  }

  int rank_, size_;
  double timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  const char* what_ = nullptr;
  Clock::time_point since_;
  bool told_signal_ = false, quit_ = false;
  std::thread thread_;  // last: starts once the rest is ready
};

// Arms the watchdog for the scope of one MPI call.
class Watched {
 public:
  Watched(Watchdog& dog, const char* what) : dog_(dog) { dog_.arm(what); }
  ~Watched() { dog_.disarm(); }
  Watched(const Watched&) = delete;
  Watched& operator=(const Watched&) = delete;

 private:
  Watchdog& dog_;
};

class MpiCollective final : public train::Collective {
 public:
  MpiCollective() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      // One thread at a time talks to MPI: the thread that calls fit, or while it computes the backward pass the
      // thread that sums the gradient (train/comm_thread.h); OpenMP, loader and watchdog threads never do.
      if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided_) != MPI_SUCCESS)
        throw std::runtime_error("MPI_Init_thread failed");
      owns_mpi_ = true;
    } else {
      MPI_Query_thread(&provided_);
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    spans_machines_ = count_on_this_machine() < size_;
    watchdog_.emplace(rank_, size_, timeout_seconds());
  }
  ~MpiCollective() override {
    watchdog_.reset();
    MPI_Comm_free(&comm_);
    if (owns_mpi_) MPI_Finalize();
  }
  MpiCollective(const MpiCollective&) = delete;
  MpiCollective& operator=(const MpiCollective&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  bool callable_from_another_thread() const override { return provided_ >= MPI_THREAD_SERIALIZED; }
  // All on one machine exactly when this process's shared-memory group is the whole job, whichever process asks.
  bool spans_machines() const override { return spans_machines_; }

  void sum(std::span<double> values) override {
    // In the tree a one-process run combines the processes' subtrees in (train::Collective::sum). Two processes:
    // a + b is b + a, so MPI's order cannot matter. A power of two: recursive doubling, every process forming the
    // tree at once. Other counts: reduced along the tree to rank 0, then broadcast (the same bits everywhere).
    const bool doubling = size_ > 2 && std::has_single_bit(static_cast<unsigned>(size_));
    const Watched watched(*watchdog_, "the gradient sum");
    for (size_t at = 0; at < values.size(); at += kBucket) {
      std::span<double> bucket = values.subspan(at, std::min(kBucket, values.size() - at));
      if (size_ == 2) {
        MPI_Allreduce(MPI_IN_PLACE, bucket.data(), static_cast<int>(bucket.size()), MPI_DOUBLE, MPI_SUM, comm_);
      } else if (doubling) {
        tree_sum(bucket);
      } else {
        tree_reduce(0, size_, bucket);
        MPI_Bcast(bucket.data(), static_cast<int>(bucket.size()), MPI_DOUBLE, 0, comm_);
      }
    }
  }
  void sum(std::span<int64_t> values) override {
    const Watched watched(*watchdog_, "a sum of counts");
    for (size_t at = 0; at < values.size(); at += kBucket)
      MPI_Allreduce(MPI_IN_PLACE, values.data() + at, static_cast<int>(std::min(kBucket, values.size() - at)),
                    MPI_INT64_T, MPI_SUM, comm_);
  }
  void max(std::span<int64_t> values) override {
    const Watched watched(*watchdog_, "the vote at the end of a step");
    for (size_t at = 0; at < values.size(); at += kBucket)
      MPI_Allreduce(MPI_IN_PLACE, values.data() + at, static_cast<int>(std::min(kBucket, values.size() - at)),
                    MPI_INT64_T, MPI_MAX, comm_);
  }
  void broadcast(std::span<std::byte> bytes, int root) override {
    const Watched watched(*watchdog_, "a broadcast of the batch-normalisation statistics");
    for (size_t at = 0; at < bytes.size(); at += kBucket)
      MPI_Bcast(bytes.data() + at, static_cast<int>(std::min(kBucket, bytes.size() - at)), MPI_BYTE, root, comm_);
  }

 private:
  // Recursive doubling: at distance d = 1, 2, 4, ... each process swaps its sum with rank ^ d and both form
  // lower + upper, so after log2(size) rounds every process holds ((r0 + r1) + (r2 + r3)) + ..., the same bits.
  void tree_sum(std::span<double> values) {
    scratch_.resize(values.size());
    const int count = static_cast<int>(values.size());
    for (int d = 1; d < size_; d <<= 1) {
      const int partner = rank_ ^ d;
      MPI_Sendrecv(values.data(), count, MPI_DOUBLE, partner, d, scratch_.data(), count, MPI_DOUBLE, partner, d,
                   comm_, MPI_STATUS_IGNORE);
      const bool lower = rank_ < partner;
      for (size_t i = 0; i < values.size(); ++i)
        values[i] = lower ? values[i] + scratch_[i] : scratch_[i] + values[i];
    }
  }

  // The sum over ranks [lo, hi) (this rank among them) into rank lo, in the shape ShardedStep's tree gives the
  // same number of equal subtrees: a power of two as two halves, other counts as the largest power of two below
  // them on the left and the rest on the right (its finish_tree's a + (b + c)). Each left + right is formed by the
  // left subtree's first rank, the right one's first rank sending.
  void tree_reduce(int lo, int hi, std::span<double> values) {
    const int n = hi - lo;
    if (n == 1) return;
    const auto un = static_cast<unsigned>(n);
    const int split = lo + (std::has_single_bit(un) ? n / 2 : static_cast<int>(std::bit_floor(un)));
    const int count = static_cast<int>(values.size());
    if (rank_ < split) {
      tree_reduce(lo, split, values);
      if (rank_ != lo) return;
      scratch_.resize(values.size());
      MPI_Recv(scratch_.data(), count, MPI_DOUBLE, split, kReduceTag, comm_, MPI_STATUS_IGNORE);
      for (size_t i = 0; i < values.size(); ++i) values[i] = values[i] + scratch_[i];
    } else {
      tree_reduce(split, hi, values);
      if (rank_ == split) MPI_Send(values.data(), count, MPI_DOUBLE, lo, kReduceTag, comm_);
    }
  }
  static constexpr int kReduceTag = 0x7265;

  // The processes of the job that share this one's memory (MPI_COMM_TYPE_SHARED: one machine, as MPI sees it).
  int count_on_this_machine() const {
    MPI_Comm local = MPI_COMM_NULL;
    MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
    int n = 1;
    MPI_Comm_size(local, &n);
    MPI_Comm_free(&local);
    return n;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  int provided_ = MPI_THREAD_SINGLE;  // the thread level MPI gives
  bool owns_mpi_ = false;
  bool spans_machines_ = false;
  std::optional<Watchdog> watchdog_;
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
