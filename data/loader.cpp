#include "data/loader.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <system_error>

namespace tg::data {

namespace {

constexpr uint64_t kShuffleStream = 0x5a0f'f1e0ULL;
constexpr uint64_t kAugmentStream = 0xa0'6e00ULL;

// The generator of the sample at position p of epoch e: a pure function of (seed, e, p).
Rng sample_rng(uint64_t seed, int64_t epoch, int64_t p) {
  return Rng::derive(Rng::derive(seed, kAugmentStream, static_cast<uint64_t>(epoch)).next_u64(), kAugmentStream,
                     static_cast<uint64_t>(p));
}

void check(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("DataLoader: " + what);
}

}  // namespace

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, std::vector<size_t> indices, LoaderOptions options,
                       LoaderPosition start)
    : dataset_(std::move(dataset)), indices_(std::move(indices)), options_(std::move(options)) {
  check(dataset_ != nullptr, "no dataset");
  check(options_.batch_size >= 1, "batch_size must be at least 1");
  check(options_.workers >= 0, "workers must be 0 (load on the calling thread) or more");
  check(!indices_.empty(), "the index list is empty (nothing to load)");
  for (size_t i : indices_)
    check(i < dataset_->size(), "index " + std::to_string(i) + " is outside the dataset of " +
                                    std::to_string(dataset_->size()) + " samples");
  const auto C = static_cast<size_t>(dataset_->spec().channels);
  check(options_.mean.empty() || options_.mean.size() == C, "mean needs one value per channel (" + std::to_string(C) + ")");
  check(options_.std.empty() || options_.std.size() == C, "std needs one value per channel (" + std::to_string(C) + ")");
  for (float s : options_.std) check(s > 0, "std values must be positive");
  check(options_.slice_parts >= 1 && options_.slice_first >= 0 && options_.slice_first < options_.slice_end &&
            options_.slice_end <= options_.slice_parts,
        "the batch slice [" + std::to_string(options_.slice_first) + ", " + std::to_string(options_.slice_end) +
            ") of " + std::to_string(options_.slice_parts) + " parts is not a non-empty range of parts");

  const auto n = static_cast<int64_t>(indices_.size()), b = static_cast<int64_t>(options_.batch_size);
  steps_ = options_.drop_last ? n / b : (n + b - 1) / b;
  check(steps_ > 0, std::to_string(n) + " samples make no full batch of " + std::to_string(b) +
                        " with drop_last; lower the batch size or keep the last batch");
  capacity_ = options_.prefetch > 0 ? options_.prefetch : 2 * std::max(options_.workers, 1);
  set_position(start);
  try {
    for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  } catch (const std::system_error& e) {
    // The destructor does not run for a constructor that throws: the threads already started are joined here,
    // or their std::thread destructors would terminate the program.
    const size_t started = workers_.size();
    stop_workers();
    throw std::runtime_error("DataLoader: could start only " + std::to_string(started) + " of " +
                             std::to_string(options_.workers) + " worker threads (" + e.what() +
                             "); use fewer workers");
  }
}

DataLoader::~DataLoader() { stop_workers(); }

void DataLoader::stop_workers() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

std::shared_ptr<const std::vector<size_t>> DataLoader::cached_order(int64_t epoch) const {
  std::lock_guard lock(order_mu_);
  auto it = orders_.find(epoch);
  if (it != orders_.end()) return it->second;
  auto order = std::make_shared<const std::vector<size_t>>(epoch_order(epoch));
  if (orders_.size() >= 4) orders_.erase(orders_.begin());  // workers span at most the current and next epoch
  orders_.emplace(epoch, order);
  return order;
}

std::vector<size_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<size_t> order = indices_;
  if (!options_.shuffle) return order;
  Rng rng = Rng::derive(options_.seed, kShuffleStream, static_cast<uint64_t>(epoch));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.uniform_int(i)]);
  return order;
}

Batch DataLoader::make_batch(LoaderPosition pos) const {
  check(pos.epoch >= 0 && pos.step >= 0 && pos.step < steps_,
        "position (epoch " + std::to_string(pos.epoch) + ", step " + std::to_string(pos.step) + ") is outside the " +
            std::to_string(steps_) + " steps of an epoch");
  const std::shared_ptr<const std::vector<size_t>> order = cached_order(pos.epoch);
  const DatasetSpec& spec = dataset_->spec();
  const int64_t whole_begin = pos.step * options_.batch_size;
  const int64_t whole = std::min<int64_t>(options_.batch_size, static_cast<int64_t>(order->size()) - whole_begin);
  const int64_t first = options_.slice_first * whole / options_.slice_parts;
  const int64_t begin = whole_begin + first;
  const int64_t count = options_.slice_end * whole / options_.slice_parts - first;
  const int64_t H = spec.height, W = spec.width, C = spec.channels;
  Batch batch{Tensor({count, H, W, C}), Tensor({count, H, W}), Tensor(), {}, pos.epoch, pos.step, first, whole};
  const bool training = options_.augment.has_value();
  std::vector<float> shift, scale;  // (x - mean) / std per channel, or nothing to do
  if (!options_.mean.empty() || !options_.std.empty())
    for (int64_t c = 0; c < C; ++c) {
      shift.push_back(options_.mean.empty() ? 0.0f : options_.mean[c]);
      scale.push_back(options_.std.empty() ? 1.0f : 1.0f / options_.std[c]);
    }
  for (int64_t j = 0; j < count; ++j) {
    const size_t index = (*order)[begin + j];
    Rng rng = sample_rng(options_.seed, pos.epoch, begin + j);
    Sample s = dataset_->get(index, training ? &rng : nullptr);
    if (s.image.shape() != Shape{H, W, C} || s.labels.shape() != Shape{H, W})
      throw std::runtime_error("DataLoader: sample '" + dataset_->name(index) + "' has image " +
                               shape_str(s.image.shape()) + " and labels " + shape_str(s.labels.shape()) +
                               ", but the dataset promises [" + std::to_string(H) + ", " + std::to_string(W) + ", " +
                               std::to_string(C) + "]");
    if (training) augment(s, *options_.augment, rng);
    const float* img = s.image.data<float>();
    float* dst = batch.images.data<float>() + j * H * W * C;
    if (shift.empty()) {
      std::copy_n(img, H * W * C, dst);
    } else {
      for (int64_t i = 0; i < H * W; ++i)
        for (int64_t c = 0; c < C; ++c) dst[i * C + c] = (img[i * C + c] - shift[c]) * scale[c];
    }
    std::copy_n(s.labels.data<float>(), H * W, batch.labels.data<float>() + j * H * W);
    const bool weighted = j == 0 ? s.weights.defined() : batch.weights.defined();
    if (s.weights.defined() != weighted || (weighted && s.weights.shape() != Shape{H, W}))
      throw std::runtime_error("DataLoader: sample '" + dataset_->name(index) + "' has weights " +
                               (s.weights.defined() ? shape_str(s.weights.shape()) : std::string("missing")) +
                               "; every sample of a batch needs an [" + std::to_string(H) + ", " +
                               std::to_string(W) + "] weight map, or none does");
    if (s.weights.defined()) {
      if (j == 0) batch.weights = Tensor::empty({count, H, W});
      std::copy_n(s.weights.data<float>(), H * W, batch.weights.data<float>() + j * H * W);
    }
    batch.indices.push_back(index);
  }
  return batch;
}

void DataLoader::worker_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || next_issue_ < next_deliver_ + capacity_; });
    if (stopping_) return;
    const int64_t g = next_issue_++;
    const uint64_t generation = generation_;
    lock.unlock();
    Slot slot;
    try {
      slot.batch = make_batch(at(g));
    } catch (...) {
      slot.error = std::current_exception();
    }
    lock.lock();
    if (generation == generation_) {
      ready_.emplace(g, std::move(slot));
      ready_cv_.notify_all();
    }
  }
}

Batch DataLoader::next() {
  if (workers_.empty()) {
    int64_t g;
    {
      std::lock_guard lock(mu_);
      g = next_deliver_++;
    }
    return make_batch(at(g));
  }
  std::unique_lock lock(mu_);
  ready_cv_.wait(lock, [&] { return ready_.contains(next_deliver_); });
  Slot slot = std::move(ready_.extract(next_deliver_).mapped());
  ++next_deliver_;
  lock.unlock();
  work_cv_.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  return std::move(slot.batch);
}

LoaderPosition DataLoader::position() const { return at(global_step()); }

int64_t DataLoader::global_step() const {
  std::lock_guard lock(mu_);
  return next_deliver_;
}

void DataLoader::set_position(LoaderPosition pos) {
  check(pos.epoch >= 0 && pos.step >= 0 && pos.step < steps_,
        "cannot set position (epoch " + std::to_string(pos.epoch) + ", step " + std::to_string(pos.step) +
            "): an epoch has steps 0.." + std::to_string(steps_ - 1));
  seek(pos.epoch * steps_ + pos.step);
}

void DataLoader::seek(int64_t global_step) {
  check(global_step >= 0, "cannot seek to a negative step");
  {
    std::lock_guard lock(mu_);
    ++generation_;
    ready_.clear();
    next_issue_ = next_deliver_ = global_step;
  }
  work_cv_.notify_all();
}

nlohmann::json DataLoader::state() const {
  const LoaderPosition p = position();
  return {{"epoch", p.epoch},
          {"step", p.step},
          {"seed", options_.seed},
          {"batch_size", options_.batch_size},
          {"num_samples", indices_.size()},
          {"shuffle", options_.shuffle},
          {"drop_last", options_.drop_last}};
}

void DataLoader::load_state(const nlohmann::json& state) {
  const nlohmann::json mine = this->state();
  for (const char* key : {"seed", "batch_size", "num_samples", "shuffle", "drop_last"}) {
    if (!state.contains(key)) throw std::invalid_argument(std::string("DataLoader::load_state: no '") + key + "' in the saved state");
    if (state[key] != mine[key])
      throw std::invalid_argument(std::string("DataLoader::load_state: the saved loader had ") + key + " = " +
                                  state[key].dump() + ", this one has " + mine[key].dump() +
                                  "; resume with the same data settings");
  }
  set_position({state.at("epoch").get<int64_t>(), state.at("step").get<int64_t>()});
}

}  // namespace tg::data
