// A built-in profiler for training steps: per op type and per layer, the forward and backward time and the bytes
// of tensor storage allocated. Off by default; when off it costs one test of a flag per op.
// Forward time of an op is the time since the previous op (or since its layer began) ended, so the small work
// between ops is counted with the op that follows it; backward time is that of the op's backward closure.
// Layers are named by a LayerScope the Model opens around each layer call.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tg::profiler {

void set_enabled(bool on);
bool enabled();

struct Entry {
  std::string name;       // op type ("conv2d", "relu") or layer name ("conv2d_3")
  std::string kind;       // for a layer: its class ("Conv2D"); empty for ops
  int64_t forward_calls = 0, backward_calls = 0;
  double forward_s = 0, backward_s = 0;
  uint64_t forward_bytes = 0, backward_bytes = 0;  // tensor storage allocated
};

struct Report {
  std::vector<Entry> ops;      // in order of first appearance
  std::vector<Entry> layers;   // in order of first appearance
  std::vector<Entry> regions;  // work outside ops (the optimizer step, waiting for data): time in forward_s
};

// Everything measured since the last reset (or since profiling was enabled).
Report report();
void reset();

// The report as text tables: per op type (largest first), then the regions, each with its share of `step_ms` (the
// mean step, as the rows are means), the shares of convolutions (ops named conv*), of the other ops and regions, and
// of the rest, then per layer (in order); times are per step.
std::string format_report(const Report& report, int steps, double step_ms);

// Work outside ops that belongs to a step, timed as a row of its own while profiling (e.g. "optimizer step").
class Region {
 public:
  explicit Region(const char* name);
  ~Region();
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

 private:
  const char* name_;
  bool active_;
  double start_ = 0;
  uint64_t bytes_ = 0;
};

// Ops run in its scope are counted for this layer, in the forward pass and again in backward.
class LayerScope {
 public:
  LayerScope(const std::string& name, const std::string& kind);
  ~LayerScope();
  LayerScope(const LayerScope&) = delete;
  LayerScope& operator=(const LayerScope&) = delete;

 private:
  bool active_;
  int previous_;
};

namespace detail {
// Called by record() when an op's forward ends: returns the layer the op belongs to (-1: none), to be kept with
// the op's node for the backward pass.
int forward_op_done(const char* op);
// Around a backward closure.
struct BackwardTimer {
  BackwardTimer(const std::string& op, int layer);
  ~BackwardTimer();
  const std::string& op;
  int layer;
  double start;
  uint64_t bytes;
};
}  // namespace detail

}  // namespace tg::profiler
