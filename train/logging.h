// The run's loggers (spdlog): one writes to the console (stdout, so `| tee` keeps everything) and to RUN_DIR/log.txt;
// the other writes to the file only, for the periodic progress lines while a live bar is on the terminal.
#pragma once
#include <filesystem>
#include <memory>
#include <spdlog/spdlog.h>

namespace tg::train {

struct RunLogger {
  std::shared_ptr<spdlog::logger> log;        // console + file
  std::shared_ptr<spdlog::logger> file_only;  // file (no-op without a log file)
};

// log_file empty: no file. The file is appended to, so a resumed run continues the same log.txt.
RunLogger make_run_logger(const std::filesystem::path& log_file, bool console = true,
                          spdlog::level::level_enum level = spdlog::level::info);

}  // namespace tg::train
