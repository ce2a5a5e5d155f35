#include <doctest/doctest.h>

#include <cstdint>

#include "autograd/tensor.h"

using namespace tg;

TEST_CASE("tensor: shape, dtype, zero fill, 64-byte alignment") {
  Tensor t({2, 3, 4, 5});
  CHECK(t.numel() == 120);
  CHECK(t.rank() == 4);
  CHECK(t.dim(-1) == 5);
  CHECK(t.dtype() == DType::F32);
  CHECK(reinterpret_cast<uintptr_t>(t.data<float>()) % 64 == 0);
  for (float v : t.span<float>()) CHECK(v == 0.0f);
  CHECK(shape_str(t.shape()) == "[2, 3, 4, 5]");
  Tensor d({3}, DType::F64);
  CHECK(reinterpret_cast<uintptr_t>(d.data<double>()) % 64 == 0);
  CHECK_THROWS_WITH_AS(d.data<float>(), "tensor of dtype f64 accessed as f32", std::invalid_argument);
  CHECK_THROWS_AS(t.dim(4), std::out_of_range);
}

TEST_CASE("tensor: row-major NHWC indexing") {
  Tensor t = Tensor::from({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {1, 2, 3, 2});
  CHECK(t.at({0, 0, 0, 1}) == 1);
  CHECK(t.at({0, 0, 2, 0}) == 4);
  CHECK(t.at({0, 1, 0, 0}) == 6);
  CHECK(t.at({0, 1, 2, 1}) == 11);
}

TEST_CASE("tensor: reshape and slice are views, clone copies") {
  Tensor t = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor r = t.reshape({3, -1});
  CHECK(r.shape() == Shape{3, 2});
  CHECK(r.shares_storage(t));
  r.set_flat(0, 42);
  CHECK(t.flat(0) == 42);
  Tensor s = t.slice(1, 2);
  CHECK(s.shape() == Shape{1, 3});
  CHECK(s.flat(0) == 4);
  s.set_flat(2, -1);
  CHECK(t.at({1, 2}) == -1);
  Tensor c = t.clone();
  c.set_flat(1, 99);
  CHECK(t.flat(1) == 2);
  CHECK_THROWS_WITH_AS(t.reshape({4, 2}), "reshape: cannot view [2, 3] (6 elements) as [4, 2]", std::invalid_argument);
  CHECK_THROWS_AS(t.slice(1, 3), std::out_of_range);
}

TEST_CASE("tensor: dtype conversion and printing") {
  Tensor t = Tensor::from({0.5, -1.25}, {2});
  Tensor d = t.to(DType::F64);
  CHECK(d.dtype() == DType::F64);
  CHECK(d.flat(1) == -1.25);
  CHECK(t.str() == "Tensor<f32>[2] {0.5, -1.25}");
  CHECK_THROWS_AS(t.item(), std::invalid_argument);
  CHECK(Tensor::full({1}, 3.0).item() == 3.0);
}

TEST_CASE("tensor: live bytes return to where they were") {
  const size_t before = live_tensor_bytes();
  {
    Tensor a({1000});
    Tensor b = a.reshape({10, 100});
    CHECK(live_tensor_bytes() > before);
  }
  CHECK(live_tensor_bytes() == before);
}
