// Helpers shared by the layers tests.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "autograd/autograd.h"
#include "layers/layers.h"

namespace tg::testing {

// The PyTorch whole-model references (tests/reference/cases_layers.py).
inline const nlohmann::json& layer_fixtures() {
  static const nlohmann::json fixtures = [] {
    const std::string path = std::string(TAPEGRAD_SOURCE_DIR) + "/tests/reference/fixtures/layers.json";
    std::ifstream in(path);
    if (!in)
      throw std::runtime_error(path + " is missing; run /usr/bin/python3 tests/reference/make_fixtures.py layers");
    return nlohmann::json::parse(in);
  }();
  return fixtures;
}

inline Tensor fixture_tensor(const nlohmann::json& j, DType dtype) {
  const auto data = j.at("data").get<std::vector<double>>();
  return Tensor::from(std::span<const double>(data), j.at("shape").get<Shape>(), dtype);
}

// The largest |a - b| / max(1, |b|) over all elements (shapes must match).
inline double max_rel_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    worst = std::max(worst, std::fabs(a.flat(i) - b.flat(i)) / std::max(1.0, std::fabs(b.flat(i))));
  return worst;
}

// A float64 tensor of the given shape filled with U[lo, hi) from a fixed seed.
inline Tensor random_tensor(Shape shape, uint64_t seed, double lo = -1.0, double hi = 1.0,
                            DType dtype = DType::F64) {
  Tensor t(std::move(shape), dtype);
  Rng(seed).fill_uniform(t, lo, hi);
  return t;
}

}  // namespace tg::testing
