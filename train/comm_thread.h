// The thread that runs the cross-process gradient sums handed to it while the main thread goes on with the backward
// pass (train/sharded_step.h). One thread, tasks in the order handed: the processes' collectives must be called in
// the same order on every process, and a Collective is called by one thread at a time (MPI_THREAD_SERIALIZED), so
// the main thread makes no call on the Collective between handing work here and wait() returning.
#pragma once
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace tg::train {

class CommThread {
 public:
  CommThread() : thread_([this] { run(); }) {}
  ~CommThread();  // runs what was handed, then joins
  CommThread(const CommThread&) = delete;
  CommThread& operator=(const CommThread&) = delete;

  void post(std::function<void()> task);
  // Until every task handed so far has run; rethrows the first exception one of them threw.
  void wait();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable work_, done_;
  std::deque<std::function<void()>> tasks_;
  bool busy_ = false, quit_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts once the rest is ready
};

}  // namespace tg::train
