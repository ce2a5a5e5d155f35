#include <doctest/doctest.h>

#include <cstdio>

#include "train/progress.h"

using namespace tg::train;

TEST_CASE("progress: durations and a rendered bar line") {
  CHECK(format_duration(4.4) == "4s");
  CHECK(format_duration(123) == "2:03");
  CHECK(format_duration(3723) == "1:02:03");
  ProgressFrame f;
  f.epoch = 3;
  f.epochs = 20;
  f.step = 5;
  f.steps = 10;
  f.images_per_second = 41.26;
  f.eta_seconds = 12;
  f.metrics = {{"pixel_accuracy", 0.91234}, {"loss", 0.23456}};
  CHECK(render_progress(f, 10) ==
        "Epoch 3/20  5/10 [=====>....]  41.3 img/s  ETA 12s  loss: 0.2346  pixel_accuracy: 0.9123");
  f.step = 10;
  CHECK(render_progress(f, 0) == "Epoch 3/20  10/10  41.3 img/s  loss: 0.2346  pixel_accuracy: 0.9123");
}

TEST_CASE("progress: a pipe gets plain lines (at least the epoch's last step), never escape codes") {
  std::FILE* pipe = std::tmpfile();
  REQUIRE(pipe);
  CHECK(resolve_progress_mode(ProgressMode::Auto, pipe) == ProgressMode::Lines);
  std::vector<std::string> lines;
  Progress p(ProgressMode::Auto, 3600.0, pipe, [&](const std::string& s) { lines.push_back(s); }, nullptr);
  p.begin_epoch(1, 2, 3);
  for (int s = 1; s <= 3; ++s) p.update(s, 4, {{"loss", 1.0 / s}});
  p.end_epoch();
  REQUIRE(lines.size() == 1);  // the interval is an hour: only the final step's line
  CHECK(lines[0].rfind("Epoch 1/2  3/3", 0) == 0);
  CHECK(lines[0].find("loss: 0.3333") != std::string::npos);
  CHECK(std::ftell(pipe) == 0);  // nothing drawn on the stream itself
  std::fclose(pipe);
}

TEST_CASE("progress: bar mode redraws in place and sends lines to the log file") {
  std::FILE* out = std::tmpfile();
  std::vector<std::string> file_lines;
  Progress p(ProgressMode::Bar, 0.0, out, nullptr, [&](const std::string& s) { file_lines.push_back(s); });
  p.begin_epoch(1, 1, 2);
  p.update(1, 8, {});
  p.update(2, 8, {});
  p.end_epoch();
  std::rewind(out);
  char buf[512] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, out);
  const std::string drawn(buf, n);
  CHECK(drawn.find("\r\033[KEpoch 1/1  1/2 [") != std::string::npos);
  CHECK(drawn.back() == '\n');
  CHECK(file_lines.size() == 2);
  std::fclose(out);
}
