// exp, log and log1p for float32 written with nothing but +, -, *, /, comparisons and bit moves, so that a loop
// `#pragma omp simd` over them vectorises (glibc's scalar expf/logf are calls the compiler cannot vectorise, and its
// vector versions need -ffast-math, which would also reorder the losses' sums and drop their NaN checks).
//
// Every lane computes exactly what the scalar code computes: the same IEEE operations in the same order, no
// reduction across lanes. So the result does not depend on the vector width (SSE2 in the portable build, AVX2 or
// AVX-512 under -march=native) nor on the thread count. What can differ between builds is fused multiply-add
// contraction (GCC contracts a * b + c when the target has FMA): the files that use these functions are compiled
// with -ffp-contract=off (CMakeLists.txt), so the portable and the native builds give the same bits too.
//
// The algorithms are Cephes's expf and logf (S. L. Moshier): Cody-Waite range reduction and a minimax polynomial.
// Accuracy against the correctly rounded result, over every float (tests/autograd/vector_math_test.cpp): exp within
// 1 ulp, log within 1 ulp, log1p within 2 ulp, denormal inputs and results included; inf, -inf and NaN as std::exp,
// std::log and std::log1p give them. The double overloads are std:: itself (float64 is the gradcheck path, where
// accuracy matters more than speed).
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace tg::vm {

namespace detail {
inline float pow2(int32_t n) { return std::bit_cast<float>(static_cast<uint32_t>(n + 127) << 23); }  // n in [-126, 127]
}  // namespace detail

inline float exp(float x) {
  // Beyond these exp(x) is inf (above log(FLT_MAX) = 88.72) or rounds to 0 (below log of half the smallest
  // denormal, -103.97); clamping keeps the exponent arithmetic below in range.
  const float xc = x > 89.0f ? 89.0f : (x < -104.0f ? -104.0f : x);
  // n = round(x / ln 2) by the 1.5 * 2^23 trick (round to nearest even without an SSE4.1 round instruction).
  constexpr float kShifter = 12582912.0f;
  const float shifted = xc * 1.44269504088896341f + kShifter;
  const float n = shifted - kShifter;
  const int32_t ni = static_cast<int32_t>(std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(kShifter));
  // r = x - n ln 2 with ln 2 split in two (the first part has few bits, so n * it is exact): |r| <= ln 2 / 2.
  const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
  const float r2 = r * r;
  const float p =
      ((((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
         1.6666665459e-1f) *
            r +
        5.0000001201e-1f) *
           r2 +
       r) +
      1.0f;
  // Scale by 2^n in two exact steps, so that a denormal result is rounded once and 2^128 overflows to inf.
  const int32_t n1 = ni >> 1;  // n in [-150, 128]: both halves are normal powers of two
  const float y = p * detail::pow2(n1) * detail::pow2(ni - n1);
  return x != x ? x : y;  // NaN stays NaN
}

inline float log(float x) {
  // Denormals are scaled into the normal range first (2^23), their exponent corrected below.
  const bool tiny = x < std::numeric_limits<float>::min();
  const float xs = tiny ? x * 8388608.0f : x;
  const uint32_t bits = std::bit_cast<uint32_t>(xs);
  // x = m * 2^e with m in [0.5, 1), then m in [sqrt(1/2), sqrt(2)) around 1: f = m - 1 is small.
  float e = static_cast<float>(static_cast<int32_t>((bits >> 23) & 0xffu) - 126) - (tiny ? 23.0f : 0.0f);
  const float m = std::bit_cast<float>((bits & 0x007fffffu) | 0x3f000000u);
  const bool low = m < 0.707106781186547524f;
  const float f = low ? (m + m) - 1.0f : m - 1.0f;
  e = low ? e - 1.0f : e;
  const float z = f * f;
  float y = ((((((((7.0376836292e-2f * f - 1.1514610310e-1f) * f + 1.1676998740e-1f) * f - 1.2420140846e-1f) * f +
                 1.4249322787e-1f) *
                    f -
                1.6668057665e-1f) *
                   f +
               2.0000714765e-1f) *
                  f -
              2.4999993993e-1f) *
                 f +
             3.3333331174e-1f) *
            f * z;
  y = y + e * -2.12194440e-4f;  // e * ln 2 in two parts, as in exp
  y = y - 0.5f * z;
  const float result = (f + y) + e * 0.693359375f;
  constexpr float inf = std::numeric_limits<float>::infinity();
  // log(0) = -inf, log(negative) = NaN, log(inf) = inf, log(NaN) = NaN.
  return x == 0.0f ? -inf : (x < 0.0f || x != x ? std::numeric_limits<float>::quiet_NaN() : (x == inf ? x : result));
}

// log(1 + a), accurate for small a too, where log of the rounded u = 1 + a alone would lose digits: u - 1 is exact
// (for u < 2^24) and a - (u - 1) is what the rounding lost, so log(1 + a) = log(u) + (a - (u - 1)) / u to first
// order.
inline float log1p(float a) {
  const float u = 1.0f + a;
  const float corrected = log(u) + (a - (u - 1.0f)) / u;
  constexpr float inf = std::numeric_limits<float>::infinity();
  // a = -1 and a = inf, where the correction is 0 / 0; a = -0 keeps its sign.
  return u == 0.0f ? -inf : (u == inf || a == 0.0f ? a : corrected);
}

inline double exp(double x) { return std::exp(x); }
inline double log(double x) { return std::log(x); }
inline double log1p(double x) { return std::log1p(x); }

}  // namespace tg::vm
