// The processes that train one model together (data parallelism), as fit needs them: each process computes the
// gradient of its part of every global batch and the parts are summed across processes. train/ knows only this
// interface; distributed/ implements it with MPI (distributed/mpi_collective.h). FitOptions::collective null: one
// process, and nothing here is used.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace tg::train {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;  // 0 .. size() - 1; rank 0 owns the console, the log, the report and checkpoints
  virtual int size() const = 0;

  // Element-wise sums over every process, in place, and every process receives the same bits. The float64 sum is
  // the fixed tree over the ranks in order that ShardedStep's tree (train/sharded_step.h) forms over as many
  // complete subtrees: for a power of two the balanced tree ((r0 + r1) + (r2 + r3)), for other counts the largest
  // power of two of them balanced on the left and the rest, likewise, on the right (6: ((r0 + r1) + (r2 + r3)) +
  // (r4 + r5); 3: (r0 + r1) + r2), whatever the transport chooses. That is what makes N processes compute what one
  // process computes when each holds a power-of-two number of the parts.
  virtual void sum(std::span<double> values) = 0;
  virtual void sum(std::span<int64_t> values) = 0;  // exact
  virtual void max(std::span<int64_t> values) = 0;
  // The bytes of process `root` copied to every process.
  virtual void broadcast(std::span<std::byte> bytes, int root) = 0;

  // Whether the calls above may come from another thread than the one that made the Collective, one thread at a
  // time (MPI_THREAD_SERIALIZED): then the gradient's sum runs on a thread of its own during the backward pass
  // (train/sharded_step.h). The same answer on every process.
  virtual bool callable_from_another_thread() const { return false; }
  // Whether the processes run on more than one machine (some pair shares no memory). The same answer on every
  // process. FitOptions::overlap_gradient_sum's default follows it: a sum over a network link is long and mostly
  // waiting, one through shared memory is short and its thread competes with backward for the cores.
  virtual bool spans_machines() const { return false; }
};

}  // namespace tg::train
