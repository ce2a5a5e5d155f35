#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cinttypes>
#include <cstring>

namespace tg::train {

namespace {
constexpr const char* kModelKey = "tapegrad.model";
constexpr const char* kStateKey = "tapegrad.train";
constexpr const char* kChecksumKey = "tapegrad.checksum";

struct Hasher {
  uint64_t h = 0x243f6a8885a308d3ULL;
  void word(uint64_t w) {
    h ^= w + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
  }
  void bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      word(w);
    }
    uint64_t tail = 0;
    std::memcpy(&tail, p + i, n - i);
    word(tail ^ (static_cast<uint64_t>(n) << 56));
  }
  void text(const std::string& s) { bytes(s.data(), s.size()); }
};

void fsync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// dst becomes the same file as src, atomically: a link (or copy) under a temporary name, renamed over dst.
void replace_with_link(const std::filesystem::path& src, const std::filesystem::path& dst) {
  const std::filesystem::path tmp = dst.parent_path() / ("." + dst.filename().string() + ".link-" +
                                                         std::to_string(::getpid()));
  std::error_code ec;
  if (std::filesystem::equivalent(src, dst, ec)) return;  // rename() of two links to one file would do nothing
  std::filesystem::remove(tmp, ec);
  std::filesystem::create_hard_link(src, tmp, ec);
  if (ec) {
    std::filesystem::copy_file(src, tmp, std::filesystem::copy_options::overwrite_existing);
    const int fd = ::open(tmp.c_str(), O_RDONLY);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
  }
  std::filesystem::rename(tmp, dst);
  fsync_dir(dst.parent_path());
}
}  // namespace

std::string checkpoint_checksum(const Checkpoint& c) {
  Hasher h;
  for (const NamedTensor& t : c.tensors) {
    h.text(t.name);
    h.word(t.tensor.dtype() == DType::F32 ? 32 : 64);
    for (int64_t d : t.tensor.shape()) h.word(static_cast<uint64_t>(d));
    h.bytes(t.tensor.bytes(), t.tensor.nbytes());
  }
  h.text(c.model_config.dump());
  h.text(c.state.dump());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, h.h);
  return hex;
}

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& c) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  save_safetensors(path, c.tensors,
                   {{kModelKey, c.model_config.dump()}, {kStateKey, c.state.dump()}, {kChecksumKey, checkpoint_checksum(c)}});
}

namespace {
SafetensorsFile read_checkpoint_file(const std::filesystem::path& path) {
  try {
    return load_safetensors(path);
  } catch (const std::exception& e) {
    throw CheckpointError(std::string("cannot read checkpoint: ") + e.what());
  }
}

Checkpoint verified_checkpoint(SafetensorsFile file) {
  const std::filesystem::path path = file.path;
  const auto need = [&](const char* key) -> const std::string& {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end())
      throw CheckpointError(path.string() + ": not a tapegrad training checkpoint (no '" + key +
                            "' in its metadata); a weights file cannot be resumed from, load it with load_weights");
    return it->second;
  };
  Checkpoint c;
  c.path = path;
  try {
    c.model_config = nlohmann::json::parse(need(kModelKey));
    c.state = nlohmann::json::parse(need(kStateKey));
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(path.string() + ": corrupt checkpoint metadata: " + e.what());
  }
  c.tensors = std::move(file.tensors);
  const std::string expected = need(kChecksumKey), actual = checkpoint_checksum(c);
  if (expected != actual)
    throw CheckpointError(path.string() + ": checkpoint is corrupt: its checksum is " + actual + " but it was written as " +
                          expected + " (the file changed after it was saved); use another checkpoint");
  return c;
}
}  // namespace

Checkpoint load_checkpoint(const std::filesystem::path& path) { return verified_checkpoint(read_checkpoint_file(path)); }

Model load_trained_model(const std::filesystem::path& path) {
  SafetensorsFile file = read_checkpoint_file(path);
  if (!file.metadata.contains(kChecksumKey)) return load_model(path);  // a weights file (read again: small)
  const Checkpoint c = verified_checkpoint(std::move(file));
  try {
    return Model::from_config(c.model_config, c.tensors, path.string());
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw CheckpointError(what.starts_with(path.string()) ? what : path.string() + ": its model: " + what);
  }
}

void write_run_checkpoint(const RunDir& run, const Checkpoint& c, int64_t global_step, bool best, int keep_last) {
  std::filesystem::create_directories(run.checkpoints());
  std::filesystem::path written;
  if (keep_last > 0) {
    written = run.step_checkpoint(global_step);
    save_checkpoint(written, c);
    replace_with_link(written, run.last_checkpoint());
  } else {
    written = run.last_checkpoint();
    save_checkpoint(written, c);
  }
  if (best) replace_with_link(written, run.best_checkpoint());
  auto steps = run.step_checkpoints();
  const size_t keep = static_cast<size_t>(std::max(keep_last, 0));
  for (size_t i = 0; i + keep < steps.size(); ++i) std::filesystem::remove(steps[i].second);
}

Checkpoint load_latest_checkpoint(const RunDir& run, std::vector<std::string>* skipped) {
  std::vector<std::filesystem::path> candidates;
  auto steps = run.step_checkpoints();
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) candidates.push_back(it->second);
  if (std::filesystem::exists(run.last_checkpoint())) candidates.push_back(run.last_checkpoint());
  if (candidates.empty())
    throw CheckpointError("no checkpoint in " + run.checkpoints().string() +
                          "; start a new run there instead of resuming, or point to the run folder that has them");
  std::string reasons;
  for (const auto& path : candidates) {
    try {
      return load_checkpoint(path);
    } catch (const CheckpointError& e) {
      if (skipped) skipped->push_back(e.what());
      reasons += std::string("\n  ") + e.what();
    }
  }
  throw CheckpointError("no readable checkpoint in " + run.checkpoints().string() + ":" + reasons);
}

void remove_stale_temporaries(const RunDir& run) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(run.checkpoints(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 1 && name[0] == '.' &&
        (name.find(".tmp-") != std::string::npos || name.find(".link-") != std::string::npos))
      std::filesystem::remove(entry.path(), ec);
  }
}

}  // namespace tg::train
