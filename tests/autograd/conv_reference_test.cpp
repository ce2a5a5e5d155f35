// conv2d, conv2d_transpose, pooling and upsampling in float32 against PyTorch float64 references with Keras
// semantics (tests/reference/cases_conv.py -> tests/reference/fixtures/conv.json).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/autograd/norm_fixtures.h"

using namespace tg;
using nlohmann::json;
using tg::testing::expect_close;
using tg::testing::fixture_tensor;

namespace {

const json& conv_fixtures() {
  static const json fixtures = [] {
    const std::string path = std::string(TAPEGRAD_SOURCE_DIR) + "/tests/reference/fixtures/conv.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path + " is missing; run /usr/bin/python3 tests/reference/make_fixtures.py conv");
    return json::parse(in);
  }();
  return fixtures;
}

Padding padding_of(const json& c) {
  const std::string p = c.at("padding").get<std::string>();
  if (p == "same") return Padding::Same;
  if (p == "explicit") return Padding::Explicit;
  REQUIRE(p == "valid");
  return Padding::Valid;
}

std::array<int, 2> pair(const json& c, const char* key) { return c.at(key).get<std::array<int, 2>>(); }

Variable run_case(const json& c, const Variable& x, const Variable& kernel, const Variable& bias) {
  const std::string op = c.at("op").get<std::string>();
  if (op == "conv2d") {
    Conv2DOptions o;
    o.strides = pair(c, "strides");
    o.dilation = pair(c, "dilation");
    o.padding = padding_of(c);
    const auto pads = c.at("pads").get<std::array<int, 4>>();
    o.pads = {pads[0], pads[1], pads[2], pads[3]};
    return conv2d(x, kernel, bias, o);
  }
  if (op == "conv2d_transpose") {
    Conv2DTransposeOptions o;
    o.strides = pair(c, "strides");
    o.dilation = pair(c, "dilation");
    o.padding = padding_of(c);
    o.output_padding = pair(c, "output_padding");
    return conv2d_transpose(x, kernel, bias, o);
  }
  if (op == "max_pool2d" || op == "avg_pool2d") {
    Pool2DOptions o;
    o.pool_size = pair(c, "pool_size");
    o.strides = pair(c, "strides");
    o.padding = padding_of(c);
    return op == "max_pool2d" ? max_pool2d(x, o) : avg_pool2d(x, o);
  }
  REQUIRE(op == "upsample2d");
  const std::string mode = c.at("mode").get<std::string>();
  return upsample2d(x, pair(c, "size"), mode == "bilinear" ? Interpolation::Bilinear : Interpolation::Nearest);
}

}  // namespace

TEST_CASE("conv/pool/upsample: float32 forward and backward match the PyTorch references") {
  const json& cases = conv_fixtures();
  CHECK(cases.size() >= 35);
  for (const auto& [name, c] : cases.items()) {
    CAPTURE(name);
    Variable x(fixture_tensor(c.at("x"), DType::F32), true);
    Variable kernel = c.contains("kernel") ? Variable(fixture_tensor(c.at("kernel"), DType::F32), true) : Variable();
    Variable bias = c.contains("bias") ? Variable(fixture_tensor(c.at("bias"), DType::F32), true) : Variable();
    Variable y = run_case(c, x, kernel, bias);
    expect_close(y.value(), c.at("y"), name + " y");
    y.backward(fixture_tensor(c.at("gy"), DType::F32));
    expect_close(x.grad(), c.at("dx"), name + " dx");
    if (kernel.defined()) expect_close(kernel.grad(), c.at("dkernel"), name + " dkernel");
    if (bias.defined()) expect_close(bias.grad(), c.at("dbias"), name + " dbias");
  }
}
