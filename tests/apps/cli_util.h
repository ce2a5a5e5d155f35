// Running the tapegrad command from tests: a child process with its output captured in a file, temporary folders,
// PNG sizes and small files.
#pragma once
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/temp_dir.h"

extern char** environ;

namespace tg::cli_test {

namespace fs = std::filesystem;

using tg::testing::TempDir;

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

inline nlohmann::json read_json(const fs::path& path) { return nlohmann::json::parse(read_text(path)); }

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// Starts the program all[0] with arguments all[1...], stdout and stderr both going to `log`; returns the child's
// pid. `threads` > 0 sets OMP_NUM_THREADS for the child: the tests' tiny models gain nothing from more threads, and `ctest -j` runs tests
// side by side, where OpenMP programs that together want more threads than there are cores slow down tenfold.
inline pid_t spawn_program(std::vector<std::string> all, const fs::path& log, int threads = 1) {
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  if (threads > 0) env_strings.push_back("OMP_NUM_THREADS=" + std::to_string(threads));
  for (char** e = environ; *e; ++e)
    if (threads <= 0 || std::string_view(*e).rfind("OMP_NUM_THREADS=", 0) != 0) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, all[0].c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE_MESSAGE(rc == 0, "could not start " << all[0]);
  return pid;
}

// `tapegrad ARGS...`, as spawn_program.
inline pid_t spawn_cli(const std::vector<std::string>& args, const fs::path& log, int threads = 1) {
  std::vector<std::string> all = {TAPEGRAD_CLI};
  all.insert(all.end(), args.begin(), args.end());
  return spawn_program(std::move(all), log, threads);
}

// Polls until `path` exists or `seconds` pass (a signal test waits for the first checkpoint so the signal lands
// mid-run); returns whether it appeared.
inline bool wait_for_file(const std::filesystem::path& path, int seconds = 120) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!std::filesystem::exists(path) && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return std::filesystem::exists(path);
}

// The exit status as a shell reports it: the code, or 128 + the signal that ended the process.
inline int wait_cli(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

struct Interrupted {
  bool started = false;  // whether the first checkpoint appeared before the signal was sent
  int status = -1;
  std::string output;
  fs::path last;  // RUN/checkpoints/last.safetensors
};

// Starts `tapegrad ARGS...` training into `run` and sends it `signal` once its first checkpoint exists, so the
// signal lands mid-run; waits for it to exit.
inline Interrupted interrupt_training(const std::vector<std::string>& args, const fs::path& run, const fs::path& log,
                                      int signal) {
  const pid_t pid = spawn_cli(args, log);
  Interrupted r;
  r.last = run / "checkpoints" / "last.safetensors";
  r.started = wait_for_file(r.last);
  REQUIRE(::kill(pid, signal) == 0);
  r.status = wait_cli(pid);
  r.output = read_text(log);
  return r;
}

struct Result {
  int status = -1;
  std::string output;  // stdout and stderr interleaved
};

// Runs `tapegrad ARGS...` to completion; `scratch` holds the captured output. threads: as for spawn_cli.
inline Result run_cli(const std::vector<std::string>& args, const fs::path& scratch, int threads = 1) {
  static int counter = 0;
  const fs::path log = scratch / ("cli_output_" + std::to_string(counter++) + ".txt");
  Result r;
  r.status = wait_cli(spawn_cli(args, log, threads));
  r.output = read_text(log);
  fs::remove(log);
  return r;
}

struct PngSize {
  int width = 0, height = 0, channels = 0;
  bool operator==(const PngSize&) const = default;
};

inline PngSize png_size(const fs::path& path) {
  PngSize s;
  REQUIRE_MESSAGE(stbi_info(path.c_str(), &s.width, &s.height, &s.channels) == 1, "not an image: " << path);
  return s;
}

inline std::ostream& operator<<(std::ostream& os, const PngSize& s) {
  return os << s.width << "x" << s.height << "x" << s.channels;
}

// 8-bit pixels of an image file, as stored (channels as in the file).
inline std::vector<uint8_t> png_pixels(const fs::path& path, PngSize* size = nullptr) {
  int w = 0, h = 0, c = 0;
  uint8_t* data = stbi_load(path.c_str(), &w, &h, &c, 0);
  REQUIRE_MESSAGE(data != nullptr, "cannot decode " << path);
  std::vector<uint8_t> pixels(data, data + static_cast<size_t>(w) * h * c);
  stbi_image_free(data);
  if (size) *size = {w, h, c};
  return pixels;
}

// A grey PNG of the given size with a smooth pattern and a bright disc, so a model has something to segment.
inline void write_grey_png(const fs::path& path, int height, int width) {
  std::vector<uint8_t> px(static_cast<size_t>(height) * width);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const int dy = y - height / 2, dx = x - width / 3;
      const bool disc = dx * dx + dy * dy < (height * height) / 16;
      px[static_cast<size_t>(y) * width + x] = static_cast<uint8_t>(disc ? 220 : 40 + (x * 7 + y * 3) % 60);
    }
  fs::create_directories(path.parent_path());
  REQUIRE(stbi_write_png(path.c_str(), width, height, 1, px.data(), width) == 1);
}

inline size_t count_lines(const fs::path& path) { return lines_of(read_text(path)).size(); }

}  // namespace tg::cli_test
