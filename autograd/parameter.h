// A named Variable a model holds and an optimizer updates: one type for both, so that
// `tg::Adam(model.parameters())` needs no conversion.
#pragma once
#include <string>

#include "autograd/variable.h"

namespace tg {

struct Parameter {
  std::string name;  // "<layer>/<weight>", e.g. "conv2d_3/kernel"; optimizer slots are "optimizer/<name>/<slot>"
  Variable variable;
  // Trainable parameters get gradients; the others (BatchNormalization's moving statistics) are updated by the
  // forward pass and rejected by optimizers.
  bool trainable = true;
};

}  // namespace tg
