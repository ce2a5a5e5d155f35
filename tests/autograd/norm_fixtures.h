// The PyTorch reference values for batch norm and the losses (tests/reference/cases_norm.py).
#pragma once
#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/autograd/test_util.h"

namespace tg::testing {

inline const nlohmann::json& norm_fixtures() {
  static const nlohmann::json fixtures = [] {
    const std::string path = std::string(TAPEGRAD_SOURCE_DIR) + "/tests/reference/fixtures/norm.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path + " is missing; run /usr/bin/python3 tests/reference/make_fixtures.py norm");
    return nlohmann::json::parse(in);
  }();
  return fixtures;
}

inline Tensor fixture_tensor(const nlohmann::json& j, DType dtype) {
  const auto data = j.at("data").get<std::vector<double>>();
  return Tensor::from(std::span<const double>(data), j.at("shape").get<Shape>(), dtype);
}

// |a - b| <= tol * max(1, |b|) for every element, with the first offender in the failure message.
inline void expect_close(const Tensor& actual, const nlohmann::json& expected, const std::string& what,
                         double tol = 1e-5) {
  REQUIRE_MESSAGE(actual.shape() == expected.at("shape").get<Shape>(), what << ": shape " << shape_str(actual.shape()));
  const auto want = expected.at("data").get<std::vector<double>>();
  for (size_t i = 0; i < want.size(); ++i) {
    const double a = actual.flat(static_cast<int64_t>(i)), b = want[i];
    if (!(std::fabs(a - b) <= tol * std::max(1.0, std::fabs(b)))) {
      FAIL_CHECK(what << "[" << i << "]: got " << a << ", PyTorch reference " << b);
      return;
    }
  }
}

inline void expect_close(double actual, double expected, const std::string& what, double tol = 1e-5) {
  CHECK_MESSAGE(std::fabs(actual - expected) <= tol * std::max(1.0, std::fabs(expected)),
                what << ": got " << actual << ", PyTorch reference " << expected);
}

}  // namespace tg::testing
