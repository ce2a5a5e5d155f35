// Helpers shared by the optimizer tests: the PyTorch/Keras reference fixtures and the quadratic test problem.
#pragma once
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "autograd/autograd.h"
#include "optim/optim.h"

namespace tg::testing {

inline const nlohmann::json& optim_fixtures() {
  static const nlohmann::json fixtures = [] {
    const std::string path = std::string(TAPEGRAD_SOURCE_DIR) + "/tests/reference/fixtures/optim.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path + " is missing; run /usr/bin/python3 tests/reference/make_fixtures.py optim");
    return nlohmann::json::parse(in);
  }();
  return fixtures;
}

inline Tensor fixture_tensor(const nlohmann::json& j, DType dtype = DType::F64) {
  const std::vector<double> data = j.at("data").get<std::vector<double>>();
  return Tensor::from(std::span<const double>(data), j.at("shape").get<Shape>(), dtype);
}

// loss = sum over parameters of sum(coef * (w - target)^2), the problem the fixtures were computed on.
struct Quadratic {
  std::vector<Parameter> params;
  std::vector<Variable> targets, coefs;

  explicit Quadratic(const nlohmann::json& fixture_case, DType dtype = DType::F64) {
    for (const auto& p : fixture_case.at("params")) {
      params.push_back({p.at("name").get<std::string>(), Variable(fixture_tensor(p.at("init"), dtype), true)});
      targets.emplace_back(fixture_tensor(p.at("target"), dtype));
      coefs.emplace_back(fixture_tensor(p.at("coef"), dtype));
    }
  }
  void compute_gradients() {
    Variable loss;
    for (size_t i = 0; i < params.size(); ++i) {
      Variable d = params[i].variable - targets[i];
      Variable term = sum(coefs[i] * d * d);
      loss = loss.defined() ? loss + term : term;
    }
    loss.backward();
  }
  void train(Optimizer& opt, int steps) {
    for (int s = 0; s < steps; ++s) {
      opt.zero_grad();
      compute_gradients();
      opt.step();
    }
  }
};

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double m = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.flat(i) - b.flat(i)));
  return m;
}

inline bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.bytes(), b.bytes(), a.nbytes()) == 0;
}

}  // namespace tg::testing
