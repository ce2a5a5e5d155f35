#include "train/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "train/metric_log.h"

namespace tg::train {

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(std::llround(std::max(seconds, 0.0)));
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

std::string render_progress(const ProgressFrame& f, int bar_width) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "Epoch %lld/%lld  %lld/%lld", static_cast<long long>(f.epoch),
                static_cast<long long>(f.epochs), static_cast<long long>(f.step), static_cast<long long>(f.steps));
  std::string line = buf;
  if (bar_width > 0) {
    const int done = f.steps > 0 ? static_cast<int>(bar_width * f.step / f.steps) : 0;
    std::string bar(static_cast<size_t>(bar_width), '.');
    for (int i = 0; i < done; ++i) bar[i] = '=';
    if (done < bar_width && f.step > 0) bar[done] = '>';
    line += " [" + bar + "]";
  }
  std::snprintf(buf, sizeof buf, "  %.1f img/s", f.images_per_second);
  line += buf;
  if (f.step < f.steps) line += "  ETA " + (f.eta_seconds < 0 ? std::string("?") : format_duration(f.eta_seconds));
  for (const std::string& name : ordered_metric_names(f.metrics)) {
    std::snprintf(buf, sizeof buf, "  %s: %.4f", name.c_str(), f.metrics.at(name));
    line += buf;
  }
  return line;
}

ProgressMode resolve_progress_mode(ProgressMode mode, std::FILE* stream) {
  if (mode != ProgressMode::Auto) return mode;
  const char* term = std::getenv("TERM");
  const bool dumb = term && std::strcmp(term, "dumb") == 0;
  return stream && ::isatty(::fileno(stream)) && !dumb ? ProgressMode::Bar : ProgressMode::Lines;
}

Progress::Progress(ProgressMode mode, double line_interval_seconds, std::FILE* bar_stream, LineSink lines,
                   LineSink file_lines)
    : mode_(resolve_progress_mode(mode, bar_stream)),
      interval_(line_interval_seconds),
      stream_(bar_stream),
      lines_(std::move(lines)),
      file_lines_(std::move(file_lines)) {}

void Progress::begin_epoch(int64_t epoch, int64_t epochs, int64_t steps, int64_t first_step) {
  epoch_ = epoch;
  epochs_ = epochs;
  steps_ = steps;
  first_step_ = first_step;
  images_ = 0;
  start_ = last_line_ = Clock::now();
}

ProgressFrame Progress::frame(int64_t step, const MetricLogs& running) const {
  ProgressFrame f;
  f.epoch = epoch_;
  f.epochs = epochs_;
  f.step = step;
  f.steps = steps_;
  f.metrics = running;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const int64_t done_here = step - first_step_;
  if (elapsed > 0) f.images_per_second = static_cast<double>(images_) / elapsed;
  if (done_here > 0) f.eta_seconds = elapsed / static_cast<double>(done_here) * static_cast<double>(steps_ - step);
  return f;
}

void Progress::update(int64_t step, int64_t images_this_step, const MetricLogs& running) {
  if (mode_ == ProgressMode::Off) return;
  images_ += images_this_step;
  const auto now = Clock::now();
  const bool line_due = std::chrono::duration<double>(now - last_line_).count() >= interval_ || step == steps_;
  if (mode_ == ProgressMode::Bar) {
    std::fprintf(stream_, "\r\033[K%s", render_progress(frame(step, running), 30).c_str());
    std::fflush(stream_);
    bar_open_ = true;
    if (line_due && file_lines_) file_lines_(render_progress(frame(step, running), 0));
  } else if (line_due && lines_) {
    lines_(render_progress(frame(step, running), 0));
  }
  if (line_due) last_line_ = now;
}

void Progress::end_epoch() {
  if (bar_open_) {
    std::fputc('\n', stream_);
    std::fflush(stream_);
    bar_open_ = false;
  }
}

std::string four_decimals(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", x);
  return buf;
}

std::string epoch_line(const EpochRecord& r, int64_t epochs) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1fs", r.seconds);
  std::string line = "Epoch " + std::to_string(r.epoch) + "/" + std::to_string(epochs) + " - " + seconds;
  for (const std::string& name : ordered_metric_names(r.metrics)) {
    const std::string base = name.rfind("val_", 0) == 0 ? name.substr(4) : name;
    if (base == "loss" || base == "pixel_accuracy" || base == "mean_iou" || base == "mean_dice")
      line += " - " + name + ": " + four_decimals(r.metrics.at(name));
  }
  char lr[32];
  std::snprintf(lr, sizeof lr, "%.4g", r.learning_rate);
  return line + " - lr: " + lr;
}

}  // namespace tg::train
