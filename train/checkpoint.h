// Training checkpoints: one safetensors file holding the model's weights (trainable and BN statistics, named as
// Model::weights() names them), the optimizer's slots ("optimizer/<weight>/m", ...), and in __metadata__ the model
// config ("tapegrad.model", as Model::save_weights writes it), the training state ("tapegrad.train": epoch, step,
// generators, optimizer scalars, schedule, best metric, history) and a checksum over all of it ("tapegrad.checksum"),
// so a file damaged after it was written is refused instead of silently resuming from garbage.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/io/safetensors.h"
#include "layers/model.h"
#include "train/run_dir.h"

namespace tg::train {

struct Checkpoint {
  std::vector<NamedTensor> tensors;
  nlohmann::json model_config;
  nlohmann::json state;
  std::filesystem::path path;  // where it was read from (empty for one built in memory)
};

class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Written atomically (temporary file, fsync, rename, fsync of the folder).
void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);
// Throws CheckpointError naming the file and what is wrong: missing, truncated, corrupt header, not a tapegrad
// checkpoint (e.g. a bare weights file), or a checksum mismatch.
Checkpoint load_checkpoint(const std::filesystem::path& path);

// The model a file holds, for predicting, evaluating and summarising: a training checkpoint is verified against its
// checksum first (as resuming does); a weights file from Model::save_weights has none and is read as load_model
// reads it. Either way weights that are NaN or infinite are refused (Model::load_weights).
Model load_trained_model(const std::filesystem::path& path);

// 64-bit hash of the tensors (names, dtypes, shapes, bytes) and the two JSON documents, as hex.
std::string checkpoint_checksum(const Checkpoint& checkpoint);

// Writes checkpoints into a run folder: step-<global_step>.safetensors, then last.safetensors (and best.safetensors
// when `best`) as hard links to it (a copy where links are unsupported), each replaced atomically; then deletes all
// but the newest `keep_last` step files. keep_last = 0 keeps no step files, only last (and best).
void write_run_checkpoint(const RunDir& run, const Checkpoint& checkpoint, int64_t global_step, bool best,
                          int keep_last);

// The newest readable checkpoint of a run: the newest step file, else older ones, else last.safetensors. Files that
// fail to load are reported through `skipped` (path and reason). Throws CheckpointError when none is readable.
Checkpoint load_latest_checkpoint(const RunDir& run, std::vector<std::string>* skipped = nullptr);

// Removes temporary files a killed writer may have left in the checkpoint folder.
void remove_stale_temporaries(const RunDir& run);

}  // namespace tg::train
