// A training step whose gradient is summed from fixed parts of the batch (FitOptions::gradient_shards), computed by
// one process or shared among several (train/collective.h) with the same bits.
//
// Why parts: one pass over the whole batch reduces each weight's gradient over batch x pixels in a blocked order
// that depends on the batch size, so a process holding half the batch cannot reproduce it. Fixing the parts (S of
// them, whatever the number of processes) and summing their gradients in one fixed order makes the sum independent
// of who computed which part: process r of N computes parts [r S / N, (r + 1) S / N) and their float64 subtree,
// the processes' subtrees are summed in the tree's order (Collective::sum), and N processes end with the bits of one.
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/batch_parts.h"
#include "train/collective.h"
#include "train/metrics.h"
#include "train/train_step.h"

namespace tg::train {

// The parts of each batch and which of them this process computes. Part s of a batch of n samples holds samples
// [s n / S, (s + 1) n / S) (data::LoaderOptions::slice_*).
struct ShardPlan {
  int64_t shards = 1;          // S
  int64_t first = 0, end = 1;  // this process's parts
  // Process `rank` of `size` takes parts [rank S / size, (rank + 1) S / size); size must divide S.
  static ShardPlan for_process(int64_t shards, int rank, int size);
};

// The cross-process sum that BatchNormalization's statistics take under --sync-bn (autograd/batch_parts.h).
class ProcessSum final : public ReplicaSum {
 public:
  explicit ProcessSum(Collective* group) : group_(group) {}
  void sum(std::span<double> values) override;

 private:
  Collective* group_;
};

// Runs steps with a plan; holds the float64 gradient buffers from one step to the next.
class ShardedStep {
 public:
  // sync_batch_norm: BatchNormalization in training takes its statistics over the whole batch, every part of
  // every process (FitOptions::sync_batch_norm), so this process's parts run forward and backward as one batch.
  ShardedStep(const Optimizer& optimizer, ShardPlan plan, Collective* group, bool sync_batch_norm = false);

  // One optimizer step on the batch of which `local` holds this process's parts (data::Batch::first, full_size).
  // Each part runs forward and backward on its own, with dropout masks drawn from (seed, global_step, part); its
  // gradient times its sample count joins a float64 binary tree over the parts (a leaf per part in order, pairs
  // merged left + right as soon as they are complete); the processes' trees are summed by the group and the
  // optimizer applies tree / n, rounded once to the weights' type. With sync_batch_norm the process's parts run as
  // one batch (one leaf: n x the gradient of the parts' losses, each weighted by its samples / n), each part's
  // dropout masks drawn as when it runs alone. The result's loss is the sample-weighted mean of
  // the parts' losses, summed in part order: the same bits on every process. `confusion` (empty on entry) receives
  // the whole batch's counts. A non-finite loss in any part changes no weight, on any process.
  StepResult operator()(Model& model, const TrainingLoss& loss, Optimizer& optimizer, const data::Batch& local,
                        uint64_t seed, int64_t global_step, ConfusionMatrix& confusion);

 private:
  struct Node {
    int level;
    std::vector<double> sum;
  };
  std::vector<double> take_buffer();
  void merge_top();
  void push_leaf(std::vector<double> leaf);  // merges completed pairs
  std::vector<double> finish_tree();
  void run_part(Model& model, const TrainingLoss& loss, Optimizer& optimizer, const data::Batch& local, int64_t part,
                uint64_t seed, int64_t global_step, ConfusionMatrix& confusion);
  void run_parts_together(Model& model, const TrainingLoss& loss, Optimizer& optimizer, const data::Batch& local,
                          uint64_t seed, int64_t global_step, ConfusionMatrix& confusion);
  // A leaf of `scale` times the weights' gradients, which are then cleared.
  void push_gradients(Optimizer& optimizer, double scale);

  ShardPlan plan_;
  Collective* group_;
  bool sync_batch_norm_;
  ProcessSum process_sum_;
  std::vector<int64_t> offsets_;  // each trainable weight's place in the flat gradient
  int64_t flat_size_ = 0;
  std::vector<Node> tree_;
  std::vector<std::vector<double>> spare_;  // buffers kept for the next step
  std::vector<double> part_losses_;         // per part: samples x mean loss (0 for other processes' parts)
  std::vector<int64_t> has_grad_;           // per weight: parts that gave it a gradient
};

}  // namespace tg::train
