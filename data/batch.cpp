#include "data/batch.h"

#include <stdexcept>
#include <string>

namespace tg::data {

Tensor one_hot(const Tensor& labels, int num_classes, int ignore_index) {
  if (num_classes < 1) throw std::invalid_argument("one_hot: num_classes must be positive");
  Shape shape = labels.shape();
  shape.push_back(num_classes);
  Tensor out(shape);
  const Tensor ids = labels.to(DType::F32);
  const float* in = ids.data<float>();
  float* o = out.data<float>();
  for (int64_t i = 0; i < ids.numel(); ++i) {
    const int c = static_cast<int>(in[i]);
    if (c == ignore_index && ignore_index >= 0) continue;
    if (c < 0 || c >= num_classes || static_cast<float>(c) != in[i])
      throw std::invalid_argument("one_hot: label " + std::to_string(in[i]) + " at flat index " + std::to_string(i) +
                                  " is not a class id in [0, " + std::to_string(num_classes) + ")");
    o[i * num_classes + c] = 1.0f;
  }
  return out;
}

}  // namespace tg::data
