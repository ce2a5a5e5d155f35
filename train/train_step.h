// One training step: the unit fit repeats. Everything it draws comes from (seed, global step), so a step is a pure
// function of them and the state before it: the dropout generator is reset to Rng::derive(seed, kDropoutStream,
// global_step) and every kernel reduces in a fixed order.
#pragma once
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/batch.h"
#include "data/dataset.h"
#include "layers/model.h"
#include "optim/optimizer.h"
#include "train/loss.h"

namespace tg::train {

// Stream id for Rng::derive(seed, stream, global_step).
constexpr uint64_t kDropoutStream = 0xd409'0a7ULL;

struct StepResult {
  double loss = 0.0;  // the batch's mean loss
  Tensor outputs;     // what the loss took (logits when it skipped the output activation), for the metrics
  bool applied() const { return std::isfinite(loss); }
};

// Forward pass of `batch` with dropout masks drawn for (seed, global_step), the loss, and when the loss is finite
// the backward pass and the optimizer's update. A loss that is NaN or infinite changes nothing: no update, the
// graph dropped, and the result says !applied().
StepResult train_step(Model& model, const TrainingLoss& loss, Optimizer& optimizer, const data::Batch& batch,
                      uint64_t seed, int64_t global_step);

// A loss that is NaN or infinite stops training. Nothing is written for that step, so the last checkpoint is the
// last good state. The message names the step and the samples of the batch.
class NonFiniteLossError : public std::runtime_error {
 public:
  NonFiniteLossError(const std::string& message, int64_t global_step, std::vector<size_t> batch)
      : std::runtime_error(message), global_step_(global_step), batch_(std::move(batch)) {}
  int64_t global_step() const { return global_step_; }
  const std::vector<size_t>& batch() const { return batch_; }

 private:
  int64_t global_step_;
  std::vector<size_t> batch_;
};

// Where the failed step sits in the run, for the message.
struct StepPosition {
  int64_t epoch = 0, step = 0, steps_per_epoch = 0, global_step = 0;  // 0-based epoch; steps done before this one
};

// The error for a step whose loss came back non-finite: the value, epoch, step and global step, the first 16
// samples of the batch by name, the last good checkpoint (empty: none) and what to try.
NonFiniteLossError non_finite_loss_error(double loss, const data::Batch& batch, const data::Dataset& dataset,
                                         const StepPosition& at, const std::filesystem::path& last_good_checkpoint);

}  // namespace tg::train
