// Batches for the training loop, decoded and augmented ahead on background threads.
//
// Exact resume without hidden state: the order of epoch e is a pure function of (seed, e), and the
// randomness of the sample at position p of epoch e a pure function of (seed, e, p). A loader set to
// (epoch, step) therefore yields exactly the batches an uninterrupted run would, whatever the number of
// worker threads and however they are scheduled. An epoch here is one pass over the index list; a trainer
// whose epochs are a fixed number of steps (Keras's steps_per_epoch) just keeps calling next(), which runs on
// into the following pass, and saves state() or global_step().
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "data/augment.h"
#include "data/batch.h"
#include "data/dataset.h"

namespace tg::data {

struct LoaderOptions {
  int batch_size = 32;    // Keras's default
  bool shuffle = true;    // a fresh seeded permutation every epoch
  bool drop_last = false; // false: the last batch of an epoch may be smaller
  uint64_t seed = 0;
  int workers = 1;        // background threads; 0 = load on the calling thread
  int prefetch = 0;       // batches prepared ahead (the queue bound); 0 = 2 * max(workers, 1)
  std::optional<AugmentOptions> augment;  // training only; its presence also asks get() for random crops
  std::vector<float> mean, std;           // per channel, applied after augmentation; empty = images in [0, 1]
  // Only parts [slice_first, slice_end) of `slice_parts` equal parts of every batch are read (part p of a batch of n
  // samples: [p * n / parts, (p + 1) * n / parts)): one process's share in data-parallel training. The order and
  // each sample's augmentation stay those of the whole batch. Default: the whole batch. Not part of state().
  int64_t slice_first = 0, slice_end = 1, slice_parts = 1;
};

struct LoaderPosition {
  int64_t epoch = 0, step = 0;
  bool operator==(const LoaderPosition&) const = default;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, std::vector<size_t> indices, LoaderOptions options,
             LoaderPosition start = {});
  ~DataLoader();  // stops and joins the workers, also in the middle of an epoch
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // The batch at the current position; then the position moves on (into the next epoch after the last step).
  // An error met while preparing it (e.g. a corrupt file, named in the message) is rethrown here, and the
  // position still moves past that batch.
  Batch next();

  int64_t steps_per_epoch() const { return steps_; }
  size_t num_samples() const { return indices_.size(); }
  const Dataset& dataset() const { return *dataset_; }
  LoaderPosition position() const;
  int64_t global_step() const;  // epoch * steps_per_epoch + step
  void set_position(LoaderPosition position);
  void seek(int64_t global_step);

  // {"epoch", "step", "seed", "batch_size", "num_samples", "shuffle", "drop_last"}. load_state() checks that the
  // settings match this loader's (so a resumed run cannot silently read other batches) and sets the position.
  nlohmann::json state() const;
  void load_state(const nlohmann::json& state);

  // Pure functions of the settings: the dataset indices of an epoch in order, and the batch at a position.
  std::vector<size_t> epoch_order(int64_t epoch) const;
  Batch make_batch(LoaderPosition position) const;

 private:
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };
  void worker_loop();
  void stop_workers();  // asks the workers to finish and joins them
  LoaderPosition at(int64_t global_step) const { return {global_step / steps_, global_step % steps_}; }
  std::shared_ptr<const std::vector<size_t>> cached_order(int64_t epoch) const;

  std::shared_ptr<const Dataset> dataset_;
  std::vector<size_t> indices_;
  LoaderOptions options_;
  int64_t steps_ = 0;
  int64_t capacity_ = 0;

  mutable std::mutex mu_;
  std::condition_variable work_cv_, ready_cv_;
  int64_t next_issue_ = 0, next_deliver_ = 0;  // global steps
  uint64_t generation_ = 0;                    // bumped by set_position: late results of old work are dropped
  bool stopping_ = false;
  std::map<int64_t, Slot> ready_;
  std::vector<std::thread> workers_;

  mutable std::mutex order_mu_;
  mutable std::map<int64_t, std::shared_ptr<const std::vector<size_t>>> orders_;
};

}  // namespace tg::data
