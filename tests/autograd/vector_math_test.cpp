// The losses' float32 exp, log and log1p (autograd/kernels/vector_math.h) against std:: in double, rounded to the
// nearest float: the error in units in the last place of the float result, over a sweep of every float's bit
// pattern (one in 257: about 16.7 million inputs, each binade, sign, denormal and special value included) and the
// values where the functions change regime.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "autograd/kernels/vector_math.h"
#include "tests/autograd/test_util.h"

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// |got - exact| in ulps of the float nearest `exact` (the denormal spacing 2^-149 below the normal range). Special
// results must match exactly: NaN for NaN, an infinity or a zero of the right sign for one.
double ulp_error(float got, double exact) {
  if (std::isnan(exact)) return std::isnan(got) ? 0.0 : HUGE_VAL;
  const float rounded = static_cast<float>(exact);  // overflows to inf where float does
  if (std::isinf(rounded) || rounded == 0.0f) {
    if (got == rounded && std::signbit(got) == std::signbit(rounded)) return 0.0;
    if (std::isinf(rounded)) return HUGE_VAL;
  }
  if (std::isinf(got) || std::isnan(got)) return HUGE_VAL;
  int exponent = 0;
  std::frexp(exact, &exponent);  // |exact| in [2^(exponent - 1), 2^exponent)
  const double ulp = std::ldexp(1.0, std::max(exponent - 24, -149));
  return std::fabs(static_cast<double>(got) - exact) / ulp;
}

struct Worst {
  double ulps = 0;
  float at = 0;
  void add(double e, float x) {
    if (e > ulps || std::isnan(e)) ulps = e, at = x;
  }
};

}  // namespace

TEST_CASE("vector math: float exp, log and log1p within 1, 1 and 2 ulp over the whole float range") {
  std::vector<float> inputs;
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += 257) inputs.push_back(std::bit_cast<float>(uint32_t(bits)));
  // Where the functions change regime: exp's overflow and underflow to denormals and to 0, the edges of the
  // denormals, log's split at sqrt(1/2), log1p near 0 and -1.
  for (float x : {88.72283f, 88.7228394f, 88.72284f, -87.33654f, -87.3365479f, -103.27893f, -103.972f, -103.97208f,
                  -104.0f, 0.0f, -0.0f, 1e-45f, 1.1754942e-38f, 1.1754944e-38f, 0.70710677f, 0.70710683f, 1.0f,
                  -1.0f, -0.99999994f, 5.9604645e-08f, -5.9604645e-08f, 1e-30f, -1e-30f, 16777216.0f, 3.4028235e38f})
    for (float y : {x, std::nextafter(x, kInf), std::nextafter(x, -kInf)}) inputs.push_back(y);
  Worst exp_worst, log_worst, log1p_worst;
  for (float x : inputs) {
    const double xd = x;
    exp_worst.add(ulp_error(tg::vm::exp(x), std::exp(xd)), x);
    log_worst.add(ulp_error(tg::vm::log(x), std::log(xd)), x);
    log1p_worst.add(ulp_error(tg::vm::log1p(x), std::log1p(xd)), x);
  }
  MESSAGE("worst exp " << exp_worst.ulps << " ulp at " << exp_worst.at << ", log " << log_worst.ulps << " at "
                       << log_worst.at << ", log1p " << log1p_worst.ulps << " at " << log1p_worst.at);
  CHECK(inputs.size() > 16'000'000);
  CHECK(exp_worst.ulps <= 1.0);
  CHECK(log_worst.ulps <= 1.0);
  CHECK(log1p_worst.ulps <= 2.0);
}

TEST_CASE("vector math: infinities, NaN, zeros, denormals and huge negative logits") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(tg::vm::exp(kInf) == kInf);
  CHECK(tg::vm::exp(-kInf) == 0.0f);
  CHECK(std::isnan(tg::vm::exp(nan)));
  CHECK(tg::vm::exp(0.0f) == 1.0f);  // the largest logit of a row contributes exactly 1 to its sum of exps
  CHECK(tg::vm::exp(-0.0f) == 1.0f);
  CHECK(tg::vm::exp(100.0f) == kInf);
  CHECK(tg::vm::exp(-1e30f) == 0.0f);   // a logit far below its row's maximum
  CHECK(tg::vm::exp(-100.0f) > 0.0f);   // a denormal result, not flushed to zero
  CHECK(tg::vm::exp(-100.0f) == static_cast<float>(std::exp(-100.0)));
  CHECK(tg::vm::log(0.0f) == -kInf);
  CHECK(tg::vm::log(-0.0f) == -kInf);
  CHECK(std::isnan(tg::vm::log(-1.0f)));
  CHECK(std::isnan(tg::vm::log(-kInf)));
  CHECK(std::isnan(tg::vm::log(nan)));
  CHECK(tg::vm::log(kInf) == kInf);
  CHECK(tg::vm::log(1.0f) == 0.0f);
  CHECK(tg::vm::log(1e-45f) == static_cast<float>(std::log(static_cast<double>(1e-45f))));  // the smallest denormal
  CHECK(tg::vm::log1p(-1.0f) == -kInf);
  CHECK(std::isnan(tg::vm::log1p(-2.0f)));
  CHECK(std::isnan(tg::vm::log1p(nan)));
  CHECK(tg::vm::log1p(kInf) == kInf);
  CHECK(tg::vm::log1p(0.0f) == 0.0f);
  CHECK(std::signbit(tg::vm::log1p(-0.0f)));
  CHECK(tg::vm::log1p(1e-30f) == 1e-30f);
}
