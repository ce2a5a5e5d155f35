#include "train/sharded_step.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "autograd/ops.h"
#include "autograd/parallel.h"
#include "autograd/profiler.h"
#include "autograd/tape.h"

namespace tg::train {

namespace {
// Each part's dropout generator: Rng::derive(seed, kDropoutStream, global_step) as one pass over the batch uses,
// split once more by the part, so a part's masks do not depend on which process runs it.
constexpr uint64_t kPartStream = 0x5a4d'0a7ULL;
Rng part_rng(uint64_t seed, int64_t global_step, int64_t part) {
  return Rng::derive(Rng::derive(seed, kDropoutStream, static_cast<uint64_t>(global_step)).next_u64(), kPartStream,
                     static_cast<uint64_t>(part));
}

int64_t part_begin(int64_t part, int64_t parts, int64_t n) { return part * n / parts; }

// The tree's merge rule, in one place: the top two nodes merge (left + right) while their levels are equal, as each
// leaf arrives; `finishing`, until one is left, so subtrees left when the part count is not a power of two merge
// from the right (a + (b + c)), the same order whoever computes them. merge(i) adds node i + 1 into node i.
template <class Nodes, class Merge>
void merge_due(Nodes& nodes, bool finishing, Merge merge) {
  while (nodes.size() >= 2 && (finishing || nodes[nodes.size() - 2].level == nodes.back().level)) {
    merge(nodes.size() - 2);
    ++nodes[nodes.size() - 2].level;
    nodes.pop_back();
  }
}
}  // namespace

ShardPlan ShardPlan::for_process(int64_t shards, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size)
    throw std::invalid_argument("fit: process " + std::to_string(rank) + " of " + std::to_string(size) +
                                " is not a process of the group");
  if (shards < 1 || shards % size != 0)
    throw std::invalid_argument("fit: gradient_shards " + std::to_string(shards) + " must be a positive multiple of "
                                "the " + std::to_string(size) + " processes training together (each computes the "
                                "same number of the batch's parts)");
  return {shards, rank * shards / size, (rank + 1) * shards / size};
}

void ProcessSum::sum(std::span<double> values) {
  const profiler::Region region("batch statistics allreduce");
  group_->sum(values);
}

ShardedStep::ShardedStep(const Optimizer& optimizer, ShardPlan plan, Collective* group, bool sync_batch_norm,
                         int64_t overlap_bucket_bytes)
    : plan_(plan),
      group_(group),
      sync_batch_norm_(sync_batch_norm),
      process_sum_(group),
      part_losses_(static_cast<size_t>(plan.shards)) {
  const std::vector<Parameter>& params = optimizer.parameters();
  for (const Parameter& p : params) {
    offsets_.push_back(flat_size_);
    flat_size_ += p.variable.value().numel();
  }
  has_grad_.resize(offsets_.size());
  if (overlap_bucket_bytes <= 0 || !group_ || group_->size() < 2 || !group_->callable_from_another_thread() ||
      sync_batch_norm_ || params.empty())
    return;
  // Whole weights, from the last: backward finishes the last layers' gradients first.
  const int64_t per_bucket = std::max<int64_t>(1, overlap_bucket_bytes / static_cast<int64_t>(sizeof(double)));
  bucket_of_.resize(params.size());
  for (size_t end = params.size(); end > 0;) {
    const int64_t stop = offsets_[end - 1] + params[end - 1].variable.value().numel();
    size_t first = end - 1;
    while (first > 0 && stop - offsets_[first] < per_bucket) --first;
    for (size_t p = first; p < end; ++p) bucket_of_[p] = buckets_.size();
    buckets_.push_back({first, end, offsets_[first], stop});
    end = first;
  }
  waiting_.resize(buckets_.size());
  copied_.resize(params.size());
  comm_.emplace();
}

ShardedStep::~ShardedStep() = default;

OverlapCounts ShardedStep::overlap_counts() const {
  OverlapCounts c = counts_;
  c.started_early = started_early_.load();
  return c;
}

std::vector<double> ShardedStep::take_buffer() {
  if (spare_.empty()) return std::vector<double>(static_cast<size_t>(flat_size_));
  std::vector<double> b = std::move(spare_.back());
  spare_.pop_back();
  return b;
}

// Node i + 1 (the top) added into node i, its buffer kept for the next step.
void ShardedStep::merge_into(size_t i) {
  double* l = tree_[i].sum.data();
  const double* r = tree_[i + 1].sum.data();
  const int64_t n = flat_size_;
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
  for (int64_t k = 0; k < n; ++k) l[k] += r[k];
  spare_.push_back(std::move(tree_[i + 1].sum));
}

void ShardedStep::push_leaf(std::vector<double> leaf) {
  tree_.push_back({0, std::move(leaf)});
  merge_due(tree_, false, [this](size_t i) { merge_into(i); });
}

std::vector<double> ShardedStep::finish_tree() {
  merge_due(tree_, true, [this](size_t i) { merge_into(i); });
  std::vector<double> sum = std::move(tree_.back().sum);
  tree_.clear();
  return sum;
}

void ShardedStep::run_part(Model& model, const TrainingLoss& loss, Optimizer& optimizer, const data::Batch& local,
                           int64_t part, uint64_t seed, int64_t global_step, ConfusionMatrix& confusion) {
  const int64_t n = local.full_size;
  const int64_t begin = part_begin(part, plan_.shards, n) - local.first;
  const int64_t end = part_begin(part + 1, plan_.shards, n) - local.first;
  // The last local part's sum overlaps its backward pass: every process hands over every bucket, whatever its
  // part holds, so that the processes make the same calls.
  const bool overlap = comm_ && part == plan_.end - 1;
  if (end == begin) {  // a last batch smaller than the part count: this part is empty and adds zero
    if (overlap) {
      optimizer.zero_grad();
      begin_last_leaf(optimizer);
      end_last_leaf(optimizer, 0.0);
      return;
    }
    std::vector<double> leaf = take_buffer();
    std::fill(leaf.begin(), leaf.end(), 0.0);
    push_leaf(std::move(leaf));
    return;
  }
  model.rng() = part_rng(seed, global_step, part);
  optimizer.zero_grad();
  const Tensor labels = local.labels.slice(begin, end);
  const Variable outputs = loss.outputs(model, Variable(local.images.slice(begin, end)));
  Variable value = loss(outputs, labels, local.weights.defined() ? local.weights.slice(begin, end) : Tensor());
  const double part_loss = value.item();
  const auto count = static_cast<double>(end - begin);
  part_losses_[static_cast<size_t>(part)] = part_loss * count;
  confusion.add(outputs.value(), labels, loss.binary_threshold());
  if (overlap) {
    begin_last_leaf(optimizer);
    if (std::isfinite(part_loss)) value.backward([&](tg::Node& leaf) { leaf_ready(optimizer, leaf, count); });
    end_last_leaf(optimizer, count);
    return;
  }
  if (std::isfinite(part_loss)) value.backward();  // else the step is dropped below, on every process
  push_gradients(optimizer, count);
}

void ShardedStep::begin_last_leaf(const Optimizer& optimizer) {
  // The merges push_leaf and finish_tree would make with this leaf on top, recorded instead of run: a node's place
  // in the stack does not change until it is merged away, so the recorded indices name the real buffers.
  tree_.push_back({0, take_buffer()});
  struct Level {
    int level;
  };
  std::vector<Level> levels;
  for (const Node& node : tree_) levels.push_back({node.level});
  final_merges_.clear();
  const auto record = [this](size_t i) { final_merges_.emplace_back(tree_[i].sum.data(), tree_[i + 1].sum.data()); };
  merge_due(levels, false, record);
  merge_due(levels, true, record);
  final_sum_ = tree_.front().sum.data();

  const std::vector<Parameter>& params = optimizer.parameters();
  weight_of_.clear();
  for (size_t p = 0; p < params.size(); ++p) weight_of_[params[p].variable.node()] = p;
  std::fill(copied_.begin(), copied_.end(), 0);
  for (size_t b = 0; b < buckets_.size(); ++b)
    waiting_[b] = static_cast<int64_t>(buckets_[b].end_weight - buckets_[b].first_weight);
  next_bucket_ = 0;
  in_backward_ = true;
  ++counts_.steps;
}

void ShardedStep::leaf_ready(const Optimizer& optimizer, const tg::Node& leaf, double scale) {
  const auto it = weight_of_.find(&leaf);
  if (it == weight_of_.end() || copied_[it->second]) return;  // an input, or a frozen weight
  const size_t p = it->second;
  copy_gradient(optimizer, p, tree_.back().sum.data(), scale);
  copied_[p] = 1;
  if (--waiting_[bucket_of_[p]] == 0) hand_over_ready_buckets(true);
}

void ShardedStep::end_last_leaf(Optimizer& optimizer, double scale) {
  in_backward_ = false;
  for (size_t p = 0; p < copied_.size(); ++p)
    if (!copied_[p]) {
      copy_gradient(optimizer, p, tree_.back().sum.data(), scale);
      copied_[p] = 1;
      --waiting_[bucket_of_[p]];
    }
  hand_over_ready_buckets(false);
  optimizer.zero_grad();
}

// In bucket order, whatever order they became ready in: every process must call the collective sums alike.
void ShardedStep::hand_over_ready_buckets(bool during_backward) {
  for (; next_bucket_ < buckets_.size() && waiting_[next_bucket_] == 0; ++next_bucket_) {
    if (during_backward) ++counts_.handed_early;
    const Bucket& bucket = buckets_[next_bucket_];
    comm_->post([this, begin = bucket.begin, end = bucket.end] {
      if (in_backward_) ++started_early_;
      // One thread: an OpenMP team here would compete with the backward pass's.
      for (const auto& [left, right] : final_merges_)
        for (int64_t i = begin; i < end; ++i) left[i] += right[i];
      group_->sum(std::span<double>(final_sum_ + begin, static_cast<size_t>(end - begin)));
    });
  }
}

std::vector<double> ShardedStep::finish_overlapped_sum() {
  {
    const profiler::Region region("gradient allreduce (waiting for the overlapped sum)");
    comm_->wait();
  }
  counts_.buckets += static_cast<int64_t>(buckets_.size());
  std::vector<double> sum = std::move(tree_.front().sum);
  for (size_t i = 1; i < tree_.size(); ++i) spare_.push_back(std::move(tree_[i].sum));
  tree_.clear();
  return sum;
}

void ShardedStep::run_parts_together(Model& model, const TrainingLoss& loss, Optimizer& optimizer,
                                     const data::Batch& local, uint64_t seed, int64_t global_step,
                                     ConfusionMatrix& confusion) {
  const int64_t n = local.full_size;
  BatchParts parts{plan_.shards, plan_.first, {}, group_ ? &process_sum_ : nullptr};
  for (int64_t part = plan_.first; part <= plan_.end; ++part)
    parts.bounds.push_back(part_begin(part, plan_.shards, n) - local.first);
  if (local.size() == 0)  // fit refuses such batches: this process would have no statistics to add
    throw std::logic_error("fit: sync_batch_norm needs at least one sample of every batch on every process");
  // Each part's dropout masks from the generator it has when it runs alone (run_part).
  std::vector<Rng> part_rngs;
  for (int64_t part = plan_.first; part < plan_.end; ++part)
    part_rngs.push_back(part_rng(seed, global_step, part));
  optimizer.zero_grad();
  Variable outputs;
  {
    struct Unset {
      Model& model;
      ~Unset() { model.set_batch_parts(nullptr); }
    } unset{model};
    model.set_batch_parts(&parts, part_rngs);
    outputs = loss.outputs(model, Variable(local.images));
  }
  // Each part's loss on its own, as without sync_batch_norm (a Dice term per part), weighted by its share of the
  // batch: the same objective whoever holds which part.
  Variable total;
  for (int64_t l = 0; l < parts.local_parts(); ++l) {
    const int64_t begin = parts.bounds[l], end = parts.bounds[l + 1];
    if (end == begin) continue;
    const Variable value = loss(slice_batch(outputs, begin, end), local.labels.slice(begin, end),
                                local.weights.defined() ? local.weights.slice(begin, end) : Tensor());
    const auto count = static_cast<double>(end - begin);
    part_losses_[static_cast<size_t>(plan_.first + l)] = value.item() * count;
    const Variable weighted = mul(value, count / static_cast<double>(n));
    total = total.defined() ? add(total, weighted) : weighted;
  }
  confusion.add(outputs.value(), local.labels, loss.binary_threshold());
  // Every process must take backward (and its statistics' sums) or none: the losses are summed first.
  if (group_) {
    const profiler::Region region("gradient allreduce");
    group_->sum(std::span<double>(part_losses_));
  }
  double loss_sum = 0.0;
  for (double l : part_losses_) loss_sum += l;
  if (std::isfinite(loss_sum)) total.backward();
  push_gradients(optimizer, static_cast<double>(n));  // the tree's sum is divided by n
}

void ShardedStep::copy_gradient(const Optimizer& optimizer, size_t p, double* leaf, double scale) {
  const Variable& v = optimizer.parameters()[p].variable;
  double* dst = leaf + offsets_[p];
  const int64_t size = v.value().numel();
  if (!v.has_grad()) {
    std::fill_n(dst, size, 0.0);
    return;
  }
  ++has_grad_[p];
  const Tensor& g = v.grad();
  dispatch(g.dtype(), [&]<class T>() {
    const T* src = g.data<T>();
    // scale * g is exact in float64 (a float32 times an integer below 2^29)
#pragma omp parallel for schedule(static) if (size > kParallelThreshold)
    for (int64_t i = 0; i < size; ++i) dst[i] = scale * static_cast<double>(src[i]);
  });
}

void ShardedStep::push_gradients(Optimizer& optimizer, double scale) {
  std::vector<double> leaf = take_buffer();
  for (size_t p = 0; p < optimizer.parameters().size(); ++p) copy_gradient(optimizer, p, leaf.data(), scale);
  optimizer.zero_grad();
  push_leaf(std::move(leaf));
}

StepResult ShardedStep::operator()(Model& model, const TrainingLoss& loss, Optimizer& optimizer,
                                   const data::Batch& local, uint64_t seed, int64_t global_step,
                                   ConfusionMatrix& confusion) {
  const int64_t n = local.full_size;
  if (local.first != part_begin(plan_.first, plan_.shards, n) ||
      local.first + local.size() != part_begin(plan_.end, plan_.shards, n))
    throw std::logic_error("fit: the loader gave samples [" + std::to_string(local.first) + ", " +
                           std::to_string(local.first + local.size()) + ") of the batch, not parts [" +
                           std::to_string(plan_.first) + ", " + std::to_string(plan_.end) + ") of " +
                           std::to_string(plan_.shards));
  std::fill(part_losses_.begin(), part_losses_.end(), 0.0);
  std::fill(has_grad_.begin(), has_grad_.end(), 0);
  if (sync_batch_norm_)
    run_parts_together(model, loss, optimizer, local, seed, global_step, confusion);
  else
    for (int64_t part = plan_.first; part < plan_.end; ++part)
      run_part(model, loss, optimizer, local, part, seed, global_step, confusion);
  // With overlap the gradient's sum is on its way; the main thread makes its own calls on the group only after it.
  std::vector<double> gradient = comm_ ? finish_overlapped_sum() : finish_tree();
  // The step's generator as one pass would leave it at the start, not the last part's: a checkpoint then records
  // the same state on every process.
  model.rng() = Rng::derive(seed, kDropoutStream, static_cast<uint64_t>(global_step));

  if (group_) {
    const profiler::Region region("gradient allreduce");
    if (!sync_batch_norm_) group_->sum(std::span<double>(part_losses_));  // else summed before backward
    std::vector<int64_t> counts(confusion.counts().begin(), confusion.counts().end());
    counts.insert(counts.end(), has_grad_.begin(), has_grad_.end());
    group_->sum(std::span<int64_t>(counts));
    std::copy_n(counts.begin(), confusion.counts().size(), confusion.counts().begin());
    std::copy(counts.end() - static_cast<std::ptrdiff_t>(has_grad_.size()), counts.end(), has_grad_.begin());
  }
  double loss_sum = 0.0;
  for (double l : part_losses_) loss_sum += l;
  StepResult result{loss_sum / static_cast<double>(n), Tensor()};
  if (!result.applied()) {
    spare_.push_back(std::move(gradient));
    return result;
  }
  if (group_ && !comm_) {
    const profiler::Region region("gradient allreduce");
    group_->sum(std::span<double>(gradient));
  }
  const std::vector<Parameter>& params = optimizer.parameters();
  const auto samples = static_cast<double>(n);
  for (size_t p = 0; p < params.size(); ++p) {
    if (has_grad_[p] == 0) continue;
    const Variable& v = params[p].variable;
    Tensor g = Tensor::empty(v.value().shape(), v.value().dtype());
    const double* src = gradient.data() + offsets_[p];
    const int64_t size = g.numel();
    dispatch(g.dtype(), [&]<class T>() {
      T* dst = g.data<T>();
#pragma omp parallel for schedule(static) if (size > kParallelThreshold)
      for (int64_t i = 0; i < size; ++i) dst[i] = static_cast<T>(src[i] / samples);
    });
    v.node_ptr()->accumulate_grad(std::move(g));
  }
  spare_.push_back(std::move(gradient));
  const profiler::Region region("optimizer step");
  optimizer.step();
  optimizer.zero_grad();
  return result;
}

}  // namespace tg::train
