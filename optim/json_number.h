// JSON has no infinity or NaN, yet a "best so far" starts at +-inf and a diverged loss is NaN. These helpers write
// such values as the strings "inf", "-inf", "nan" and read them back, so checkpoint metadata round-trips exactly
// (finite doubles already do: nlohmann-json prints the shortest representation that reads back bit-identical).
#pragma once
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace tg {

inline nlohmann::json json_from_double(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  return x;
}

inline double double_from_json(const nlohmann::json& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  }
  throw std::runtime_error("expected a number (or \"inf\", \"-inf\", \"nan\") in JSON, got " + j.dump());
}

}  // namespace tg
