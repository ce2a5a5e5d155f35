// The safetensors reader and the checkpoint readers behind it: load_safetensors (header length, JSON header, dtypes,
// shapes, offsets), load_checkpoint (metadata, checksum), load_model and load_trained_model (the model config in the
// header, the weights checked against it) and the training state a resume reads (FitState::from_json).
// The checksum guards against damage, not against an author: anyone can recompute it. So every file whose header
// parses is also re-saved as a checkpoint with a valid checksum, which takes the fuzzer past it into the model
// config and the training state.
#include <nlohmann/json.hpp>

#include "autograd/io/safetensors.h"
#include "fuzz/fuzz_support.h"
#include "train/checkpoint.h"
#include "train/fit_state.h"

using namespace tg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::Scratch scratch;
  const std::filesystem::path path = scratch.write("input.safetensors", data, size);
  const std::string name = path.string();
  SafetensorsFile file;
  if (!fuzz::accepts(name, [&] { file = load_safetensors(path); })) return 0;
  fuzz::accepts(name, [&] { train::load_checkpoint(path); });
  fuzz::accepts(name, [&] { train::load_trained_model(path); });

  // Signed again: the model config and the training state behind a valid checksum.
  const auto model = file.metadata.find("tapegrad.model"), state = file.metadata.find("tapegrad.train");
  if (model == file.metadata.end() || state == file.metadata.end()) return 0;
  train::Checkpoint checkpoint;
  try {
    checkpoint.model_config = nlohmann::json::parse(model->second);
    checkpoint.state = nlohmann::json::parse(state->second);
  } catch (const nlohmann::json::exception&) {
    return 0;  // load_checkpoint refused it above, naming the file
  }
  checkpoint.tensors = std::move(file.tensors);
  const std::filesystem::path signed_path = scratch.dir() / "signed.safetensors";
  train::save_checkpoint(signed_path, checkpoint);
  fuzz::accepts(signed_path.string(), [&] { train::load_checkpoint(signed_path); });
  fuzz::accepts(signed_path.string(), [&] { train::load_trained_model(signed_path); });
  fuzz::accepts("", [&] { train::FitState::from_json(checkpoint.state); });
  return 0;
}
