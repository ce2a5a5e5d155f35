#include "train/fit_profile.h"

#include <numeric>

#include "autograd/profiler.h"

namespace tg::train {

FitProfile::~FitProfile() {
  if (running_) profiler::set_enabled(false);
}

void FitProfile::begin_step() {
  if (steps_ <= 0 || ++begun_ < 2 || static_cast<int64_t>(ms_.size()) >= steps_) return;
  if (ms_.empty()) profiler::reset();
  profiler::set_enabled(true);
  running_ = true;
  start_ = std::chrono::steady_clock::now();
}

std::string FitProfile::end_step() {
  if (!running_) return "";
  ms_.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count());
  profiler::set_enabled(false);
  running_ = false;
  return static_cast<int64_t>(ms_.size()) == steps_ ? table() : "";
}

std::string FitProfile::end_early() {
  if (running_) {
    profiler::set_enabled(false);
    running_ = false;
  }
  return ms_.empty() || reported_ ? "" : table();
}

std::string FitProfile::table() {
  reported_ = true;
  const double mean = std::accumulate(ms_.begin(), ms_.end(), 0.0) / static_cast<double>(ms_.size());
  return profiler::format_report(profiler::report(), static_cast<int>(ms_.size()), mean);
}

}  // namespace tg::train
