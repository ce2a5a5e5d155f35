// Library errors name library options (FolderOptions::mask = MaskEncoding::index()); the command line says the same
// with its flags (--mask index), so a user is told what to type where they are.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace tg::app {

// `message` with the library option names that have a command-line flag replaced by that flag.
std::string in_cli_terms(const std::string& message);

// CLI11's PositiveNumber and NonNegativeNumber refuse a value by printing the whole range, DBL_MAX in 300 digits;
// these say "--lr: 0 is not above 0" instead.
extern const CLI::Validator kPositive;     // > 0
extern const CLI::Validator kNonNegative;  // >= 0
extern const CLI::Validator kOpenUnitInterval;  // > 0 and < 1
// --threads: 0 (all cores) to 1024. Each thread costs memory and a tiny model's step slows down a thousandfold with
// thousands of them; the bound is fixed, not this machine's core count, so a run resumes on a smaller machine.
extern const CLI::Validator kThreadCount;

}  // namespace tg::app
