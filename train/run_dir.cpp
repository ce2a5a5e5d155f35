#include "train/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tg::train {

std::filesystem::path RunDir::step_checkpoint(int64_t global_step) const {
  char name[64];
  std::snprintf(name, sizeof name, "step-%08lld.safetensors", static_cast<long long>(global_step));
  return checkpoints() / name;
}

std::vector<std::pair<int64_t, std::filesystem::path>> RunDir::step_checkpoints() const {
  std::vector<std::pair<int64_t, std::filesystem::path>> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(checkpoints(), ec)) {
    const std::string name = entry.path().filename().string();
    const std::string prefix = "step-", suffix = ".safetensors";
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    found.emplace_back(std::stoll(digits), entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

bool RunDir::has_checkpoint() const { return std::filesystem::exists(last_checkpoint()) || !step_checkpoints().empty(); }

std::vector<std::filesystem::path> RunDir::run_files() const {
  std::vector<std::filesystem::path> found;
  std::error_code ec;
  for (const std::filesystem::path& p : {config(), log(), metrics_csv(), metrics_jsonl(), report(), profile(),
                                         last_checkpoint(), best_checkpoint()})
    if (std::filesystem::exists(p, ec)) found.push_back(p);
  for (const auto& [step, path] : step_checkpoints()) found.push_back(path);
  return found;
}

RunLock::RunLock(const RunDir& run) {
  std::filesystem::create_directories(run.root);
  fd_ = ::open(run.lock_file().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw std::runtime_error(run.lock_file().string() + ": cannot be created (" + std::strerror(errno) +
                             "); is the run folder writable?");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd_);
    fd_ = -1;
    if (error == EWOULDBLOCK)
      throw std::runtime_error(run.root.string() + ": another process is training in this run folder right now; "
                               "wait for it to finish or choose another folder");
    throw std::runtime_error(run.lock_file().string() + ": cannot be locked (" + std::strerror(error) + ")");
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the flock
}

}  // namespace tg::train
