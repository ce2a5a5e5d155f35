#include "train/run_dir.h"

#include <algorithm>
#include <cstdio>
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

}  // namespace tg::train
