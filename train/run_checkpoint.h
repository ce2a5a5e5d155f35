// A training run's complete state as one checkpoint, and back: the model's weights, the optimizer's slots and
// scalars, the loader's position, the generators, the FitState and the options that decide the run's numbers.
#pragma once
#include <filesystem>

#include "data/loader.h"
#include "layers/model.h"
#include "optim/optimizer.h"
#include "train/checkpoint.h"
#include "train/fit_options.h"
#include "train/fit_state.h"

namespace tg::train {

Checkpoint make_run_checkpoint(Model& model, const Optimizer& optimizer, const data::DataLoader& loader,
                               const FitState& state, const FitOptions& options, int threads);

// An optimizer setting a resumed run may change (what the advice after a non-finite loss asks for: a lower learning
// rate, gradient clipping). The results stay reproducible: the change is logged and kept in config.json.
struct SettingChange {
  std::string name;  // "learning_rate", "global_clipnorm"
  double was = 0, now = 0;
};
inline constexpr const char* kResumeAdjustableKeys[] = {"learning_rate", "global_clipnorm"};

// Puts a run back where `checkpoint` left it: the model's weights, the optimizer and the loader, and returns the
// FitState to continue from. Refuses, naming `run_root`, a checkpoint of another model or of other settings
// (kRunIdentityKeys: "batch_size (was 8, now 4)") before changing anything. The optimizer's learning rate and
// global_clipnorm may differ from the checkpoint's (not under a cosine or step-decay schedule, whose rates are fixed
// by the step): they apply from the resumed step on and are listed in `changes`.
FitState restore_run_checkpoint(const Checkpoint& checkpoint, Model& model, Optimizer& optimizer,
                                data::DataLoader& loader, const FitOptions& options,
                                const std::filesystem::path& run_root, std::vector<SettingChange>* changes = nullptr);

}  // namespace tg::train
