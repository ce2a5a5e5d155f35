// Option structs read from JSON through nlohmann's macros (NLOHMANN_DEFINE_TYPE_*_WITH_DEFAULT: every key may be
// left out and keeps the struct's default; NLOHMANN_JSON_SERIALIZE_ENUM for enums), strictly: an unknown key, an
// unknown enum name or a value of the wrong type is an error naming it and what is accepted, where the macros alone
// would ignore the key, map the name to the enum's first value, or throw nlohmann's own message.
#pragma once
#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

// nlohmann-json before 3.12 (Debian 12 has 3.11.2) has no conversion for std::optional: null <-> nullopt.
#if NLOHMANN_JSON_VERSION_MAJOR == 3 && NLOHMANN_JSON_VERSION_MINOR < 12
namespace nlohmann {
template <class T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& value) { j = value ? json(*value) : json(nullptr); }
  static void from_json(const json& j, std::optional<T>& value) {
    value = j.is_null() ? std::nullopt : std::optional<T>(j.get<T>());
  }
};
}  // namespace nlohmann
#endif

namespace tg {

// "a, b, c"
inline std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// The names an enum serialised with NLOHMANN_JSON_SERIALIZE_ENUM has, in declaration order. The macro writes an
// unlisted value as its first entry, so running through the underlying values and keeping the new names lists them.
template <class E>
std::vector<std::string> enum_names() {
  std::vector<std::string> names;
  for (int i = 0; i < 64; ++i) {
    const std::string name = nlohmann::json(static_cast<E>(i)).template get<std::string>();
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

// `j` as E; throws std::invalid_argument "<what> must be one of a, b, c; got "x"" for a name E does not have.
template <class E>
E enum_from_json(const nlohmann::json& j, const std::string& what) {
  const E value = j.get<E>();
  if (nlohmann::json(value) != j)
    throw std::invalid_argument(what + " must be one of " + join_names(enum_names<E>()) + "; got " + j.dump());
  return value;
}

// Throws std::invalid_argument naming the first key of `j` that `accepted` (e.g. the defaults as JSON) lacks, and the
// accepted keys: "<owner> has no setting 'x'; it takes: a, b, c".
inline void check_known_keys(const nlohmann::json& j, const nlohmann::json& accepted, const std::string& owner) {
  if (!j.is_object()) throw std::invalid_argument(owner + " settings must be a JSON object, got " + j.dump());
  for (const auto& [key, value] : j.items())
    if (!accepted.contains(key)) {
      std::vector<std::string> keys;
      for (const auto& [k, v] : accepted.items()) keys.push_back(k);
      throw std::invalid_argument(owner + " has no setting '" + key + "'; it takes: " + join_names(keys));
    }
}

// `j` as T, through T's from_json; nlohmann's type errors become std::invalid_argument naming `owner`.
template <class T>
T settings_from_json(const nlohmann::json& j, const std::string& owner) {
  try {
    return j.get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(owner + ": a setting has the wrong type: " + e.what());
  }
}

}  // namespace tg
