// The one exception type of the data pipeline. It carries the file at fault so that a loader can report it,
// and so that skip_bad can list what it left out.
#pragma once
#include <filesystem>
#include <stdexcept>
#include <string>

namespace tg::data {

class DataError : public std::runtime_error {
 public:
  DataError(std::filesystem::path file, const std::string& what)
      : std::runtime_error(file.empty() ? what : "'" + file.string() + "': " + what), file_(std::move(file)) {}
  explicit DataError(const std::string& what) : std::runtime_error(what) {}
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
};

}  // namespace tg::data
