// FitOptions::profile_steps: the profiler (autograd/profiler.h) over N steps of a real fit, with the data loader
// running. The first step of the fit call is left out (it fills the tensor cache and creates the optimizer's slots);
// each profiled step is timed from asking the loader for its batch to the end of its bookkeeping, so waiting for data
// and the training metrics show as rows of their own beside the ops, and the table adds up to what a step costs.
// The profiler runs only inside those steps: validation and checkpoints between them are not counted.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tg::train {

class FitProfile {
 public:
  explicit FitProfile(int64_t steps) : steps_(steps) {}
  ~FitProfile();
  FitProfile(const FitProfile&) = delete;
  FitProfile& operator=(const FitProfile&) = delete;

  void begin_step();
  // After the step's bookkeeping; returns the profiler's table when this was the last profiled step, else "".
  std::string end_step();
  // The table of the steps profiled so far when training ends before all N were (else "").
  std::string end_early();

 private:
  std::string table();
  int64_t steps_;
  int64_t begun_ = 0;
  bool running_ = false, reported_ = false;
  std::vector<double> ms_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace tg::train
