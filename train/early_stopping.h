// Keras's EarlyStopping callback: training stops once the monitored metric has not improved by more than min_delta
// for `patience` epochs, and with restore_best_weights the model goes back to the best epoch's weights. Its counters
// (EarlyStoppingState) live in the run's checkpoints, so a resumed run keeps counting where it left off.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/io/safetensors.h"
#include "layers/model.h"

namespace tg::train {

struct EarlyStoppingState {
  double best = 0.0;       // Keras's best: it moves only by more than min_delta, so it can differ from BestMetric's
  int64_t best_epoch = 0;  // 1-based
  int wait = 0;            // epochs since best_epoch

  nlohmann::json to_json() const;  // {"best", "best_epoch", "wait"}
  static EarlyStoppingState from_json(const nlohmann::json& j);
};

class EarlyStopping {
 public:
  // patience 0: never stops. `maximize`: the monitored metric is better when larger.
  EarlyStopping(int patience, double min_delta, bool maximize, bool restore_best_weights);

  bool enabled() const { return patience_ > 0; }
  // The state of a run that has not trained yet (best = the worst value possible).
  EarlyStoppingState initial_state() const;
  // Keras's EarlyStopping.on_epoch_end for the 1-based `epoch` with the monitored value: updates `state`, keeps the
  // weights of a new best in memory (restore_best_weights), and returns true when training should stop.
  bool on_epoch_end(EarlyStoppingState& state, double current, int64_t epoch, const Model& model);
  // At a stop with restore_best_weights: puts the best epoch's weights back, from memory, or after a resume (memory
  // lost) from `best_checkpoint` when that file holds the same epoch (`best_checkpoint_epoch`). Returns the note for
  // the final message ("; restored the weights of epoch 3", or why the last weights stay); "" when not asked to.
  std::string restore_best_weights(Model& model, const EarlyStoppingState& state,
                                   const std::filesystem::path& best_checkpoint, int64_t best_checkpoint_epoch) const;

 private:
  int patience_;
  double min_delta_;
  bool maximize_, restore_best_weights_;
  std::vector<NamedTensor> best_weights_;  // copies, taken at the best epoch
};

}  // namespace tg::train
