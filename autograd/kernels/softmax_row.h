// The stable softmax row loop of softmax and log_softmax: a row's maximum and the sum of exp(x - max), so that exp
// never overflows. (The losses from logits do the same over blocks of rows, vectorised: autograd/ops/losses.cpp.)
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tg::kernels {

template <class Acc>
struct RowExpSum {
  Acc max;  // the row's largest entry
  Acc sum;  // sum over the row of exp(x - max), at least 1
  Acc log_sum_exp() const { return max + std::log(sum); }
};

// Over x[0, c), in the accumulation type Acc (T itself, or double). When `exps` is given, writes
// exp(x - max) there (rounded to T, as the sum adds it), which softmax then divides by the sum.
template <class Acc, class T>
RowExpSum<Acc> row_exp_sum(const T* x, int64_t c, T* exps = nullptr) {
  Acc m = static_cast<Acc>(x[0]);
  for (int64_t j = 1; j < c; ++j) m = std::max(m, static_cast<Acc>(x[j]));
  Acc s = 0;
  if (exps != nullptr)
    for (int64_t j = 0; j < c; ++j) s += (exps[j] = static_cast<T>(std::exp(static_cast<Acc>(x[j]) - m)));
  else
    for (int64_t j = 0; j < c; ++j) s += std::exp(static_cast<Acc>(x[j]) - m);
  return {m, s};
}

}  // namespace tg::kernels
