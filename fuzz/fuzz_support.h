// What every fuzz target shares: a scratch folder for the files the readers take by path, and the oracle. A reader
// handed hostile bytes may refuse them, but only with an exception whose message names the file (or the flag) at
// fault; a crash, a sanitizer report, a hang, std::bad_alloc or std::length_error (an allocation sized by what the
// input claims), or an unexplained message is a finding: the target prints it and aborts, which libFuzzer records.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tg::fuzz {

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "\n==FUZZ FINDING== %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Runs `read`; returns true when it succeeded, false when it refused the input with a clear message (one that
// contains `must_name`, unless that is empty).
template <class F>
bool accepts(std::string_view must_name, F&& read) {
  try {
    read();
    return true;
  } catch (const std::bad_alloc&) {
    finding("std::bad_alloc: an allocation sized by what the input claims");
  } catch (const std::length_error& e) {
    finding(std::string("std::length_error (an allocation sized by the input): ") + e.what());
  } catch (const std::exception& e) {
    const std::string what = e.what();
    if (what.empty() || (!must_name.empty() && what.find(must_name) == std::string::npos))
      finding("the message does not name '" + std::string(must_name) + "': " + what);
    return false;
  }
}

// A private folder in /dev/shm (memory, when there is one) for this process's inputs, removed at exit.
class Scratch {
 public:
  Scratch() {
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    dir_ = base / ("tapegrad-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  const std::filesystem::path& dir() const { return dir_; }

  // Writes `bytes` to dir()/name and returns the path.
  std::filesystem::path write(const std::string& name, const uint8_t* data, size_t size) const {
    const std::filesystem::path path = dir_ / name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) finding("cannot write the scratch file " + path.string());
    return path;
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace tg::fuzz
