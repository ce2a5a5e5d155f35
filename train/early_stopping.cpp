#include "train/early_stopping.h"

#include <limits>

#include "optim/json_number.h"
#include "train/checkpoint.h"

namespace tg::train {

nlohmann::json EarlyStoppingState::to_json() const {
  return {{"best", json_from_double(best)}, {"best_epoch", best_epoch}, {"wait", wait}};
}

EarlyStoppingState EarlyStoppingState::from_json(const nlohmann::json& j) {
  return {double_from_json(j.at("best")), j.at("best_epoch").get<int64_t>(), j.at("wait").get<int>()};
}

EarlyStopping::EarlyStopping(int patience, double min_delta, bool maximize, bool restore_best_weights)
    : patience_(patience), min_delta_(min_delta), maximize_(maximize), restore_best_weights_(restore_best_weights) {}

EarlyStoppingState EarlyStopping::initial_state() const {
  const double worst = maximize_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  return {worst, 0, 0};
}

bool EarlyStopping::on_epoch_end(EarlyStoppingState& state, double current, int64_t epoch, const Model& model) {
  if (!enabled()) return false;
  ++state.wait;
  const bool better = maximize_ ? current - min_delta_ > state.best : current + min_delta_ < state.best;
  if (better) {
    state.best = current;
    state.best_epoch = epoch;
    state.wait = 0;
    if (restore_best_weights_) {
      best_weights_.clear();
      for (const NamedTensor& t : model.weight_tensors()) best_weights_.push_back({t.name, t.tensor.clone()});
    }
    return false;
  }
  return state.wait >= patience_ && epoch > 1;  // Keras never stops after the first epoch
}

std::string EarlyStopping::restore_best_weights(Model& model, const EarlyStoppingState& state,
                                                const std::filesystem::path& best_checkpoint,
                                                int64_t best_checkpoint_epoch) const {
  if (!restore_best_weights_) return "";
  const std::string epoch = std::to_string(state.best_epoch);
  if (!best_weights_.empty()) {
    model.load_weights(best_weights_, "the weights kept at epoch " + epoch);
    return "; restored the weights of epoch " + epoch;
  }
  if (best_checkpoint_epoch == state.best_epoch && !best_checkpoint.empty() && std::filesystem::exists(best_checkpoint)) {
    const Checkpoint best = load_checkpoint(best_checkpoint);
    model.load_weights(best.tensors, best.path.string());
    return "; restored the weights of epoch " + epoch + " from " + best_checkpoint.string();
  }
  return "; the weights of epoch " + epoch + " were not kept across the resume, so the last weights stay";
}

}  // namespace tg::train
