#include "train/comm_thread.h"

#include <utility>

namespace tg::train {

CommThread::~CommThread() {
  {
    std::lock_guard lock(mu_);
    quit_ = true;
  }
  work_.notify_all();
  thread_.join();
}

void CommThread::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  work_.notify_one();
}

void CommThread::wait() {
  std::unique_lock lock(mu_);
  done_.wait(lock, [this] { return tasks_.empty() && !busy_; });
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void CommThread::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_.wait(lock, [this] { return quit_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // quit_, with nothing left to run
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    busy_ = true;
    lock.unlock();
    std::exception_ptr error;
    try {
      // After a failure the rest still runs: every process must make the same collective calls.
      task();
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (error && !error_) error_ = error;
    busy_ = false;
    if (tasks_.empty()) done_.notify_all();
  }
}

}  // namespace tg::train
