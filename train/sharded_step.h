// A training step whose gradient is summed from fixed parts of the batch (FitOptions::gradient_shards), computed by
// one process or shared among several (train/collective.h) with the same bits.
//
// Why parts: one pass over the whole batch reduces each weight's gradient over batch x pixels in a blocked order
// that depends on the batch size, so a process holding half the batch cannot reproduce it. Fixing the parts (S of
// them, whatever the number of processes) and summing their gradients in one fixed order makes the sum independent
// of who computed which part: process r of N computes parts [r S / N, (r + 1) S / N) and their float64 subtree,
// the processes' subtrees are summed in the tree's order (Collective::sum), and N processes end with the bits of one.
//
// Overlap: the cross-process sum of the last local part's tree starts during that part's backward pass. The flat
// gradient is cut into buckets of whole weights, the last weights first (the order their gradients become final,
// autograd's LeafReadyFn); as soon as every weight of a bucket has its final gradient, its range of the tree is
// finished and a thread of its own (train/comm_thread.h) sums it across the processes while the backward pass
// goes on. The tree's additions and the sums are element-wise, so a range finished alone gives the bits the whole
// buffer would.
#pragma once
#include <atomic>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "autograd/batch_parts.h"
#include "train/collective.h"
#include "train/comm_thread.h"
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

// How much of the cross-process sum ran during the backward pass, over the steps so far.
struct OverlapCounts {
  int64_t steps = 0;          // steps whose sum overlapped the backward pass
  int64_t buckets = 0;        // buckets summed in them
  int64_t handed_early = 0;   // of them handed to the communication thread before backward returned
  int64_t started_early = 0;  // of them whose sum that thread began before backward returned
};

// Runs steps with a plan; holds the float64 gradient buffers from one step to the next.
class ShardedStep {
 public:
  // sync_batch_norm: BatchNormalization in training takes its statistics over the whole batch, every part of
  // every process (FitOptions::sync_batch_norm), so this process's parts run forward and backward as one batch.
  // overlap_bucket_bytes > 0: with a group of several processes that may be called from another thread, the sum
  // overlaps the last part's backward pass in buckets of at least that many bytes of float64 (not with
  // sync_batch_norm, whose backward pass itself sums over the processes); 0: the sum follows the backward pass.
  // Every process must be given the same value.
  ShardedStep(const Optimizer& optimizer, ShardPlan plan, Collective* group, bool sync_batch_norm = false,
              int64_t overlap_bucket_bytes = 0);
  ~ShardedStep();
  ShardedStep(const ShardedStep&) = delete;
  ShardedStep& operator=(const ShardedStep&) = delete;

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

  bool overlapped() const { return comm_.has_value(); }
  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }
  OverlapCounts overlap_counts() const;

 private:
  struct Node {
    int level;
    std::vector<double> sum;
  };
  std::vector<double> take_buffer();
  void merge_into(size_t i);
  void push_leaf(std::vector<double> leaf);  // merges completed pairs
  std::vector<double> finish_tree();
  void run_part(Model& model, const TrainingLoss& loss, Optimizer& optimizer, const data::Batch& local, int64_t part,
                uint64_t seed, int64_t global_step, ConfusionMatrix& confusion);
  void run_parts_together(Model& model, const TrainingLoss& loss, Optimizer& optimizer, const data::Batch& local,
                          uint64_t seed, int64_t global_step, ConfusionMatrix& confusion);
  // A leaf of `scale` times the weights' gradients, which are then cleared.
  void push_gradients(Optimizer& optimizer, double scale);
  // scale times weight p's gradient (zeros without one) into the flat buffer `leaf`.
  void copy_gradient(const Optimizer& optimizer, size_t p, double* leaf, double scale);

  // The overlapped last part: its leaf joins the tree unmerged, weights are copied into it as backward finishes
  // them, and each bucket whose weights are all in goes to the communication thread, in bucket order.
  void begin_last_leaf(const Optimizer& optimizer);
  void leaf_ready(const Optimizer& optimizer, const tg::Node& leaf, double scale);
  void end_last_leaf(Optimizer& optimizer, double scale);  // the weights backward did not reach, then the rest
  void hand_over_ready_buckets(bool during_backward);
  std::vector<double> finish_overlapped_sum();

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

  struct Bucket {
    size_t first_weight, end_weight;  // weights [first, end)
    int64_t begin, end;               // their range of the flat gradient
  };
  std::vector<Bucket> buckets_;                       // the last weights first
  std::vector<size_t> bucket_of_;                     // per weight
  std::unordered_map<const tg::Node*, size_t> weight_of_; // per weight's node, this step
  std::vector<int64_t> waiting_;                      // per bucket: weights not yet copied into the last leaf
  std::vector<char> copied_;                          // per weight
  size_t next_bucket_ = 0;                            // the next to hand over
  // The additions (left += right) that merge the last leaf into the tree, as finish_tree would run them; the
  // communication thread applies them to a bucket's range, then sums that range of `final_sum_`.
  std::vector<std::pair<double*, const double*>> final_merges_;
  double* final_sum_ = nullptr;
  std::atomic<bool> in_backward_{false};
  std::atomic<int64_t> started_early_{0};
  OverlapCounts counts_;
  std::optional<CommThread> comm_;  // last: stopped before the buffers its tasks write go
};

}  // namespace tg::train
