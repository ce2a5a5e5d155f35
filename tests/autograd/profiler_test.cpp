#include <doctest/doctest.h>

#include "autograd/autograd.h"
#include "autograd/profiler.h"

using namespace tg;

namespace {
const profiler::Entry* find(const std::vector<profiler::Entry>& entries, const std::string& name) {
  for (const profiler::Entry& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

// Profiling on for one scope, so no other test sees it.
struct Profiling {
  Profiling() {
    profiler::reset();
    profiler::set_enabled(true);
  }
  ~Profiling() { profiler::set_enabled(false); }
};
}  // namespace

TEST_CASE("profiler: counts each op's forward and backward calls, per op type and per layer, with the bytes") {
  Variable x(Tensor::full({64}, 1.0), true);
  {
    Profiling on;
    for (int step = 0; step < 3; ++step) {
      Variable h;
      {
        const profiler::LayerScope scope("dense_1", "Dense");
        h = relu(x * 2.0);
      }
      Variable loss = sum(h);  // outside any layer
      loss.backward();
    }
  }
  const profiler::Report r = profiler::report();
  const profiler::Entry* relu = find(r.ops, "relu");
  const profiler::Entry* scale = find(r.ops, "mul_scalar");
  const profiler::Entry* total = find(r.ops, "sum");
  const profiler::Entry* layer = find(r.layers, "dense_1");
  REQUIRE(relu);
  REQUIRE(scale);
  REQUIRE(total);
  REQUIRE(layer);
  CHECK(relu->forward_calls == 3);
  CHECK(relu->backward_calls == 3);
  CHECK(total->backward_calls == 3);
  CHECK(layer->kind == "Dense");
  CHECK(layer->forward_calls == 6);   // mul_scalar and relu, three times
  CHECK(layer->backward_calls == 6);  // sum ran outside the layer
  CHECK(relu->forward_bytes >= 3 * 64 * 4);   // each forward writes its output
  CHECK(relu->backward_bytes >= 3 * 64 * 4);  // and each backward its input's gradient
  const std::string table = profiler::format_report(r, 3, 1.0);
  CHECK(table.find("relu") != std::string::npos);
  CHECK(table.find("dense_1") != std::string::npos);
}

TEST_CASE("profiler: a region is a row of its own, and the next op's forward time starts after it") {
  Variable x(Tensor::full({64}, 1.0), true);
  {
    Profiling on;
    for (int step = 0; step < 2; ++step) {
      Variable h = relu(x);
      {
        const profiler::Region region("optimizer step");
        Tensor scratch({1000});  // 4000 bytes counted for the region
      }
      Variable y = x * 2.0;
    }
  }
  const profiler::Report r = profiler::report();
  const profiler::Entry* region = find(r.regions, "optimizer step");
  REQUIRE(region);
  CHECK(region->forward_calls == 2);
  CHECK(region->forward_bytes >= 2 * 4000);
  CHECK(find(r.ops, "optimizer step") == nullptr);
  const profiler::Entry* scale = find(r.ops, "mul_scalar");
  REQUIRE(scale);
  CHECK(scale->forward_bytes < 2 * 4000);  // the region's allocation is not the op's
  const std::string table = profiler::format_report(r, 2, 1.0);
  CHECK(table.find("optimizer step") != std::string::npos);
  CHECK(table.find("convolutions (ops conv*) 0.0% of the step") != std::string::npos);
}

TEST_CASE("profiler: off, nothing is counted") {
  profiler::reset();
  Variable x(Tensor::full({8}, 1.0), true);
  sum(relu(x)).backward();
  for (const profiler::Entry& e : profiler::report().ops) {
    CHECK(e.forward_calls == 0);
    CHECK(e.backward_calls == 0);
  }
}
