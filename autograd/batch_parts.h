// A batch whose samples several replicas (processes) hold between them, for the one op whose result depends on the
// whole batch: batch_norm in training, which then takes its statistics over every replica's samples (PyTorch's
// SyncBatchNorm; `tapegrad train --sync-bn`). autograd knows only this interface: train/ implements ReplicaSum
// over its processes (train/sharded_step.h), tests over threads.
//
// The batch is cut into `count` parts (sample ranges in order); a replica holds parts [first, first + its parts).
// batch_norm computes each part's moments on its own, places them in a table with a row for every part of the
// batch (zero for other replicas' parts), sums the table over the replicas (x + 0 = x exactly, whatever the order)
// and combines the rows in part order. Every replica thus gets the same bits, and the same bits as one replica
// holding every part: the statistics depend on the parts, not on who holds them.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace tg {

class ReplicaSum {
 public:
  virtual ~ReplicaSum() = default;
  // Element-wise sum over every replica, in place; every replica calls it in the same order with the same size.
  virtual void sum(std::span<double> values) = 0;
};

struct BatchParts {
  int64_t count = 1;              // parts of the whole batch
  int64_t first = 0;              // this replica's first part
  std::vector<int64_t> bounds{0}; // this replica's parts as sample offsets in its batch: {0, ..., its batch size}
  // Sums the parts' table over the replicas; null: this replica holds every part.
  ReplicaSum* replicas = nullptr;

  int64_t local_parts() const { return static_cast<int64_t>(bounds.size()) - 1; }
};

}  // namespace tg
