// Puts a model back in the mode (training or inference) it was in when the guard was made, also when an exception
// leaves the scope.
#pragma once
#include "layers/model.h"

namespace tg::train {

class ModeGuard {
 public:
  explicit ModeGuard(Model& model) : model_(model), training_(model.training()) {}
  ~ModeGuard() { training_ ? model_.train() : model_.eval(); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  Model& model_;
  bool training_;
};

}  // namespace tg::train
