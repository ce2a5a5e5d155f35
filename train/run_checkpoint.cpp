#include "train/run_checkpoint.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "optim/json_options.h"
#include "train/train_step.h"

namespace tg::train {

namespace {
constexpr std::string_view kOptimizerPrefix = "optimizer/";

// The identity settings that differ between the checkpoint's options and `now`. A key the checkpoint lacks (written
// before the setting existed) counts as its default.
std::vector<std::string> changed_settings(const nlohmann::json& saved_json, const FitOptions& now) {
  const nlohmann::json current = now.to_json(), defaults = FitOptions{}.to_json();
  // Read back through FitOptions, so settings added since the checkpoint was written (a new augmentation field)
  // count at their defaults, inside nested settings too.
  nlohmann::json saved = saved_json;
  try {
    saved = FitOptions::from_json(saved_json).to_json();
  } catch (const std::exception&) {  // compared as written; the difference is reported below
  }
  std::vector<std::string> changed;
  for (const char* key : kRunIdentityKeys) {
    nlohmann::json was = saved.value(key, defaults.at(key)), is = current.at(key);
    if (std::string_view(key) == "optimizer" && was.is_object() && is.is_object())
      for (const char* adjustable : kResumeAdjustableKeys) was.erase(adjustable), is.erase(adjustable);
    if (was != is)
      changed.push_back(std::string(key) + " (was " + was.dump() + ", now " + current.at(key).dump() + ")");
  }
  return changed;
}
double optimizer_setting(const nlohmann::json& optimizer, const char* key) {
  const nlohmann::json defaults = CommonOptions{};
  return optimizer.is_object() ? optimizer.value(key, defaults.at(key).get<double>()) : defaults.at(key).get<double>();
}

// The adjustable settings that differ, and the saved schedule rewritten to run at the new learning rate from here on.
std::vector<SettingChange> adjust_settings(const nlohmann::json& saved_optimizer, const nlohmann::json& optimizer,
                                           nlohmann::json& schedule, const std::filesystem::path& run_root) {
  std::vector<SettingChange> changes;
  for (const char* key : kResumeAdjustableKeys) {
    const double was = optimizer_setting(saved_optimizer, key), now = optimizer_setting(optimizer, key);
    if (was != now) changes.push_back({key, was, now});
  }
  for (const SettingChange& c : changes) {
    if (c.name != "learning_rate") continue;
    const std::string name = schedule.at("config").value("name", "constant");
    if (name != "constant" && name != "reduce_on_plateau")
      throw std::invalid_argument("fit: cannot resume " + run_root.string() + " with another learning rate: its " +
                                  name + " schedule fixes the rate of every step; resume with the run's settings "
                                  "or start a new run");
    schedule["config"]["initial_learning_rate"] = c.now;
    if (name == "reduce_on_plateau") schedule["state"]["learning_rate"] = c.now;
  }
  return changes;
}
}  // namespace

Checkpoint make_run_checkpoint(Model& model, const Optimizer& optimizer, const data::DataLoader& loader,
                               const FitState& state, const FitOptions& options, int threads) {
  Checkpoint c;
  c.tensors = model.weight_tensors();
  OptimizerState opt = optimizer.state();
  for (NamedTensor& t : opt.tensors) c.tensors.push_back(std::move(t));
  c.model_config = model.config();
  const RngState dropout = model.rng().state();
  c.state = state.to_json(
      {{"optimizer", opt.scalars},
       {"loader", loader.state()},
       {"rng",
        {{"shuffle_and_augment", {{"seed", options.seed}, {"rule", "pure function of (seed, epoch, position)"}}},
         {"dropout",
          {{"seed", dropout.seed},
           {"counter", dropout.counter},
           {"stream", kDropoutStream},
           {"rule", "Rng::derive(seed, stream, global_step)"}}}}},
       {"fit", options.to_json()},
       {"threads", threads}});
  return c;
}

FitState restore_run_checkpoint(const Checkpoint& checkpoint, Model& model, Optimizer& optimizer,
                                data::DataLoader& loader, const FitOptions& options,
                                const std::filesystem::path& run_root, std::vector<SettingChange>* changes) {
  if (checkpoint.model_config != model.config())
    throw std::invalid_argument("fit: the model differs from the one " + run_root.string() +
                                " was trained with; rebuild it from the run (load_model or "
                                "Model::from_config(read_run_config(run_dir)[\"model\"]))");
  const nlohmann::json& saved = checkpoint.state;
  if (const std::vector<std::string> changed = changed_settings(saved.at("fit"), options); !changed.empty())
    throw std::invalid_argument("fit: cannot resume " + run_root.string() + " with other settings: " +
                                join_names(changed) + "; resume with the run's settings (config.json) or start a new run");
  FitState restored = FitState::from_json(saved);
  OptimizerState opt_state{{}, saved.at("optimizer")};
  for (const NamedTensor& t : checkpoint.tensors)
    if (t.name.starts_with(kOptimizerPrefix)) opt_state.tensors.push_back(t);
  std::vector<SettingChange> adjusted;
  if (opt_state.scalars.contains("schedule"))  // else load_state below names what is missing
    adjusted = adjust_settings(saved.at("fit").value("optimizer", nlohmann::json()), options.optimizer,
                               opt_state.scalars.at("schedule"), run_root);
  model.load_weights(checkpoint.tensors, checkpoint.path.string());
  optimizer.load_state(opt_state);
  if (changes) *changes = adjusted;
  loader.load_state(saved.at("loader"));
  if (loader.global_step() != restored.global_step)
    throw CheckpointError(checkpoint.path.string() + ": the loader is at step " + std::to_string(loader.global_step()) +
                          " but the run at " + std::to_string(restored.global_step));
  return restored;
}

}  // namespace tg::train
