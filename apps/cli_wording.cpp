#include "apps/cli_wording.h"

#include <regex>
#include <utility>
#include <vector>

namespace tg::app {

std::string in_cli_terms(const std::string& message) {
  // Longest phrases first: an assignment becomes the flag with its value, a bare option name the flag.
  static const std::vector<std::pair<std::regex, std::string>> flags = {
      {std::regex(R"(FolderOptions::mask = MaskEncoding::index\(\))"), "--mask index"},
      {std::regex(R"(FolderOptions::mask = MaskEncoding::binary\(\))"), "--mask binary"},
      {std::regex(R"(FolderOptions::mask = MaskEncoding::from_palette\(\.\.\.\))"), "--mask palette:FILE"},
      {std::regex(R"(MaskEncoding::from_palette\(\.\.\.\))"), "palette:FILE"},
      {std::regex(R"(FolderOptions::num_classes = (\d+))"), "--classes $1"},
      {std::regex(R"(FolderOptions::num_classes)"), "--classes"},
      {std::regex(R"(FolderOptions::ignore_index)"), "--ignore-index"},
      {std::regex(R"(set FitOptions::overwrite)"), "pass --overwrite"},
  };
  std::string out = message;
  for (const auto& [library, flag] : flags) out = std::regex_replace(out, library, flag);
  return out;
}

namespace {
CLI::Validator number_at_least(double bound, bool strict, const char* name) {
  return CLI::Validator(
      [bound, strict](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value)) return text + " is not a number";
        if (strict ? value > bound : value >= bound) return {};
        return text + (strict ? " is not above " : " is below ") + CLI::detail::to_string(bound);
      },
      name);
}
}  // namespace

const CLI::Validator kPositive = number_at_least(0, true, "POSITIVE");
const CLI::Validator kNonNegative = number_at_least(0, false, "NONNEGATIVE");
const CLI::Validator kThreadCount = CLI::Range(0, 1024);
const CLI::Validator kOpenUnitInterval = CLI::Validator(
    [](std::string& text) -> std::string {
      double value = 0;
      if (!CLI::detail::lexical_cast(text, value)) return text + " is not a number";
      return value > 0.0 && value < 1.0 ? std::string() : text + " is not between 0 and 1 (both excluded)";
    },
    "(0, 1)");

}  // namespace tg::app
