#include "train/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace tg::train {

RunLogger make_run_logger(const std::filesystem::path& log_file, bool console, spdlog::level::level_enum level) {
  std::vector<spdlog::sink_ptr> both, file;
  if (console) {
    auto sink = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
    sink->set_pattern("%^%v%$");  // the console shows the message; the file adds time and level
    both.push_back(sink);
  }
  if (!log_file.empty()) {
    if (log_file.has_parent_path()) std::filesystem::create_directories(log_file.parent_path());
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_file.string(), /*truncate=*/false);
    sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
    both.push_back(sink);
    file.push_back(sink);
  }
  RunLogger r{std::make_shared<spdlog::logger>("tapegrad", both.begin(), both.end()),
              std::make_shared<spdlog::logger>("tapegrad.file", file.begin(), file.end())};
  for (auto* l : {&r.log, &r.file_only}) {
    (*l)->set_level(level);
    (*l)->flush_on(spdlog::level::info);  // a killed run keeps its log up to the last line
  }
  return r;
}

}  // namespace tg::train
