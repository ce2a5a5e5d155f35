// Training progress as users expect it. On a terminal: a live bar per epoch redrawn in place,
//   Epoch 3/20  37/100 [==========>...................] 41.3 img/s  ETA 0:12  loss: 0.2345  pixel_accuracy: 0.9123
// Elsewhere (CI, `| tee`, a file): the same content as plain lines every few seconds and at the end of the epoch,
// sent through the run's logger so they also land in log.txt. Timing only feeds the display, never the training.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "train/metric_log.h"
#include "train/metrics.h"

namespace tg::train {

enum class ProgressMode { Auto, Bar, Lines, Off };  // Auto: Bar when stdout is a terminal, Lines otherwise

struct ProgressFrame {
  int64_t epoch = 1, epochs = 1;  // 1-based
  int64_t step = 0, steps = 0;    // steps done of this epoch
  double images_per_second = 0.0;
  double eta_seconds = -1.0;      // < 0: unknown yet
  MetricLogs metrics;             // running values
};

// "45s", "2:03", "1:02:03".
std::string format_duration(double seconds);
// One line of progress; with bar_width > 0 it includes the [=====>....] bar.
std::string render_progress(const ProgressFrame& frame, int bar_width);
// The line logged at an epoch end: "Epoch 3/10 - 12.3s - loss: 0.1234 - ... - lr: 0.001", with the loss and the
// headline metrics (pixel accuracy, mean IoU, mean Dice, and their val_ twins); per-class values are in metrics.csv.
std::string epoch_line(const EpochRecord& record, int64_t epochs);
// Four decimals, as the epoch line prints metrics.
std::string four_decimals(double x);
// Bar for a terminal (and TERM is not "dumb"), Lines otherwise.
ProgressMode resolve_progress_mode(ProgressMode mode, std::FILE* stream);

class Progress {
 public:
  using LineSink = std::function<void(const std::string&)>;
  // bar_stream: where the live bar is drawn. lines: where plain lines go (console + log in Lines mode); file_lines:
  // where lines go in Bar mode (the log file only), so log.txt has the progress either way.
  Progress(ProgressMode mode, double line_interval_seconds, std::FILE* bar_stream, LineSink lines,
           LineSink file_lines);

  void begin_epoch(int64_t epoch, int64_t epochs, int64_t steps, int64_t first_step = 0);
  void update(int64_t step, int64_t images_this_step, const MetricLogs& running);
  void end_epoch();  // closes the bar's line
  ProgressMode mode() const { return mode_; }

 private:
  using Clock = std::chrono::steady_clock;
  ProgressFrame frame(int64_t step, const MetricLogs& running) const;
  ProgressMode mode_;
  double interval_;
  std::FILE* stream_;
  LineSink lines_, file_lines_;
  int64_t epoch_ = 1, epochs_ = 1, steps_ = 0, first_step_ = 0, images_ = 0;
  Clock::time_point start_, last_line_;
  bool bar_open_ = false;
};

}  // namespace tg::train
