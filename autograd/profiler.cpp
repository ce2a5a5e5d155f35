#include "autograd/profiler.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <unordered_map>

#include "autograd/allocator.h"

namespace tg::profiler {

namespace {
std::atomic<bool> g_enabled{false};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Table {
  std::vector<Entry> entries;
  std::unordered_map<std::string, int> index;
  int find(const std::string& name, const std::string& kind) {
    auto [it, added] = index.try_emplace(name, static_cast<int>(entries.size()));
    if (added) entries.push_back({name, kind});
    return it->second;
  }
};

struct Registry {
  std::mutex mutex;
  Table ops, layers, regions;
};
Registry& registry() {
  static Registry r;
  return r;
}

// Per thread: where the current op's forward time and allocations are counted from, and the open layer.
thread_local double t_mark = 0;
thread_local uint64_t t_bytes_mark = 0;
thread_local int t_layer = -1;

void set_mark() {
  t_mark = now_s();
  t_bytes_mark = thread_allocated_bytes();
}
}  // namespace

void set_enabled(bool on) {
  g_enabled.store(on, std::memory_order_relaxed);
  if (on) set_mark();
}
bool enabled() { return g_enabled.load(std::memory_order_relaxed); }

Report report() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return {r.ops.entries, r.layers.entries, r.regions.entries};
}

void reset() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (Table* t : {&r.ops, &r.layers, &r.regions})
    for (Entry& e : t->entries) e = Entry{e.name, e.kind};
  set_mark();
}

LayerScope::LayerScope(const std::string& name, const std::string& kind) : active_(enabled()), previous_(t_layer) {
  if (!active_) return;
  Registry& r = registry();
  {
    std::lock_guard lock(r.mutex);
    t_layer = r.layers.find(name, kind);
  }
  set_mark();
}

LayerScope::~LayerScope() {
  if (!active_) return;
  t_layer = previous_;
  set_mark();
}

Region::Region(const char* name) : name_(name), active_(enabled()) {
  if (!active_) return;
  start_ = now_s();
  bytes_ = thread_allocated_bytes();
}

Region::~Region() {
  if (!active_) return;
  const double dt = now_s() - start_;
  const uint64_t allocated = thread_allocated_bytes() - bytes_;
  {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    Entry& e = r.regions.entries[static_cast<size_t>(r.regions.find(name_, ""))];
    ++e.forward_calls;
    e.forward_s += dt;
    e.forward_bytes += allocated;
  }
  set_mark();  // the next op's forward time starts here, not before the region
}

namespace detail {

int forward_op_done(const char* op) {
  const double now = now_s();
  const uint64_t bytes = thread_allocated_bytes();
  const double dt = now - t_mark;
  const uint64_t allocated = bytes - t_bytes_mark;
  Registry& r = registry();
  {
    std::lock_guard lock(r.mutex);
    for (Entry* e : {&r.ops.entries[static_cast<size_t>(r.ops.find(op, ""))],
                     t_layer >= 0 ? &r.layers.entries[static_cast<size_t>(t_layer)] : nullptr}) {
      if (!e) continue;
      ++e->forward_calls;
      e->forward_s += dt;
      e->forward_bytes += allocated;
    }
  }
  set_mark();
  return t_layer;
}

BackwardTimer::BackwardTimer(const std::string& op_name, int layer_index)
    : op(op_name), layer(layer_index), start(now_s()), bytes(thread_allocated_bytes()) {}

BackwardTimer::~BackwardTimer() {
  const double dt = now_s() - start;
  const uint64_t allocated = thread_allocated_bytes() - bytes;
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (Entry* e : {&r.ops.entries[static_cast<size_t>(r.ops.find(op, ""))],
                   layer >= 0 && layer < static_cast<int>(r.layers.entries.size())
                       ? &r.layers.entries[static_cast<size_t>(layer)]
                       : nullptr}) {
    if (!e) continue;
    ++e->backward_calls;
    e->backward_s += dt;
    e->backward_bytes += allocated;
  }
}

}  // namespace detail

namespace {
std::string row(const char* fmt, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

std::string table(const char* title, std::vector<Entry> entries, int steps, double step_ms, bool sort) {
  if (sort)
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.forward_s + a.backward_s > b.forward_s + b.backward_s;
    });
  const double per = 1e3 / std::max(steps, 1);
  std::string out = row("%-28s %-16s %7s %9s %9s %7s %10s\n", title, sort ? "" : "class", "calls", "fwd ms",
                        "bwd ms", "share", "MB alloc");
  double fwd = 0, bwd = 0, mb = 0;
  for (const Entry& e : entries) {
    const double f = e.forward_s * per, b = e.backward_s * per;
    const double m = static_cast<double>(e.forward_bytes + e.backward_bytes) / 1048576.0 / std::max(steps, 1);
    fwd += f, bwd += b, mb += m;
    out += row("%-28s %-16s %7.1f %9.2f %9.2f %6.1f%% %10.1f\n", e.name.c_str(), e.kind.c_str(),
               static_cast<double>(e.forward_calls) / std::max(steps, 1), f, b, step_ms > 0 ? 100 * (f + b) / step_ms : 0.0, m);
  }
  out += row("%-28s %-16s %7s %9.2f %9.2f %6.1f%% %10.1f\n", "total", "", "", fwd, bwd,
             step_ms > 0 ? 100 * (fwd + bwd) / step_ms : 0.0, mb);
  return out;
}
}  // namespace

std::string format_report(const Report& report, int steps, double step_ms) {
  std::string out = row("profile: per step, mean of %d steps; a step takes %.1f ms on average\n\n", steps, step_ms);
  out += table("op", report.ops, steps, step_ms, true);
  const double per = 1e3 / std::max(steps, 1);
  double conv_ms = 0, other_ms = 0;
  for (const Entry& e : report.ops)
    ((e.name.rfind("conv", 0) == 0) ? conv_ms : other_ms) += (e.forward_s + e.backward_s) * per;
  for (const Entry& e : report.regions) other_ms += e.forward_s * per;
  for (const Entry& e : report.regions)
    out += row("%-28s %-16s %7.1f %9.2f %9s %6.1f%% %10.1f\n", e.name.c_str(), "",
               static_cast<double>(e.forward_calls) / std::max(steps, 1), e.forward_s * per, "",
               step_ms > 0 ? 100 * e.forward_s * per / step_ms : 0.0,
               static_cast<double>(e.forward_bytes) / 1048576.0 / std::max(steps, 1));
  if (step_ms > 0)
    out += row("convolutions (ops conv*) %.1f%% of the step, the other ops and regions %.1f%%, the rest %.1f%%\n",
               100 * conv_ms / step_ms, 100 * other_ms / step_ms, 100 - 100 * (conv_ms + other_ms) / step_ms);
  if (!report.layers.empty()) out += "\n" + table("layer", report.layers, steps, step_ms, false);
  return out;
}

}  // namespace tg::profiler
