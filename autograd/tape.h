// The tape: every op run while gradients are enabled appends its output and the closure that pushes the
// output's gradient back to its inputs. The tape is thread-local, so data-loading threads never touch it.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace tg {

// Receives the gradient of the op's output; accumulates into the inputs it captured.
using BackwardFn = std::function<void(const Tensor& grad_output)>;

class Tape {
 public:
  static Tape& current();  // this thread's tape

  void push(std::shared_ptr<Node> output, BackwardFn backward);
  size_t size() const { return entries_.size(); }
  void clear();
  // Runs every entry's backward in reverse order of recording, then clears the tape.
  void run_backward();

 private:
  struct Entry {
    std::shared_ptr<Node> output;
    BackwardFn backward;
  };
  std::vector<Entry> entries_;
};

bool grad_enabled();

// Within its scope ops record nothing and produce values that do not require gradients (inference, metrics).
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

// How every op ends: wraps the forward value in a Variable and, when any input requires a gradient and
// gradients are enabled, records `backward` on the tape. Returns the output.
Variable record(const char* op, Tensor value, std::initializer_list<const Variable*> inputs, BackwardFn backward);
Variable record(const char* op, Tensor value, const std::vector<Variable>& inputs, BackwardFn backward);

}  // namespace tg
