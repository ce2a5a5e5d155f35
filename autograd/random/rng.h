// A counter-based random generator: the n-th draw is a pure function of (seed, n). Its whole state is two
// integers, so a checkpoint can store it and a resumed run replays exactly the same draws, and a parallel
// fill gives the same numbers for any thread count.
#pragma once
#include <cstdint>

namespace tg {

class Tensor;

struct RngState {
  uint64_t seed = 0;
  uint64_t counter = 0;
};

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_{seed, 0} {}
  explicit Rng(RngState s) : state_(s) {}

  // Independent stream for a purpose and a step, e.g. Rng::derive(seed, kDropoutStream, global_step).
  static Rng derive(uint64_t seed, uint64_t stream, uint64_t index = 0);

  uint64_t next_u64() { return at(state_.counter++); }
  double uniform();                       // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  uint64_t uniform_int(uint64_t n);       // [0, n)
  double normal();                        // standard normal (Box-Muller)
  double truncated_normal(double stddev); // redrawn outside two standard deviations, as Keras does

  // Fills every element with U[lo, hi), element i from draw counter+i, then advances the counter by numel.
  void fill_uniform(Tensor& t, double lo, double hi);

  RngState state() const { return state_; }
  void set_state(RngState s) { state_ = s; }

  // The draw with this counter value, without advancing. Inline so per-element loops (dropout masks) vectorise.
  uint64_t at(uint64_t index) const { return mix(state_.seed + (index + 1) * kGolden); }
  // Maps a draw to [0, 1) with 53 random bits.
  static double to_unit(uint64_t x) { return static_cast<double>(x >> 11) * 0x1.0p-53; }

 private:
  static constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
  // splitmix64's finaliser: a bijective mix whose outputs for consecutive inputs pass BigCrush.
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  RngState state_;
};

}  // namespace tg
