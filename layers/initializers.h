// Keras's weight initializers, drawn from tapegrad's counter-based generator so that a model's initial weights
// are a pure function of (model seed, layer index, weight index), whatever the thread count.
#pragma once
#include <cstdint>
#include <string>

#include "autograd/tensor.h"

namespace tg {

// Stream id for weight initialisation in Rng::derive.
inline constexpr uint64_t kInitStream = 0x696e6974;  // "init"

// Returns `name` when it is a known initializer, else throws naming `who` (the layer) and the known ones:
// zeros, ones, glorot_uniform, glorot_normal, he_normal, he_uniform, lecun_normal, lecun_uniform.
std::string checked_initializer(const std::string& name, const std::string& who);

// Keras's fans: receptive field = product of all but the last two axes; fan_in = shape[-2] * receptive,
// fan_out = shape[-1] * receptive (a vector has fan_in = fan_out = its length).
struct Fans {
  double fan_in = 1, fan_out = 1;
};
Fans compute_fans(const Shape& shape);

// Fills `t` (float32 or float64) as Keras's initializer would draw it: *_uniform from U(-limit, limit),
// *_normal from a normal truncated at two standard deviations (re-drawn outside) whose stddev is divided by
// 0.87962566103423978 so that the truncated variance is the intended one.
void initialize_tensor(Tensor& t, const std::string& initializer, uint64_t seed);

}  // namespace tg
