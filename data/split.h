// Which samples train and which validate: by a seeded fraction, or by named (held-out) stems.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace tg::data {

struct Split {
  std::vector<size_t> train, validation;  // dataset indices, each list ascending
};

std::vector<size_t> all_indices(size_t n);

// A deterministic shuffle of 0..n-1 by seed; round(fraction * n) of them (at least one when fraction > 0)
// validate. fraction in [0, 1); both sides non-empty.
Split split_by_fraction(size_t n, double validation_fraction, uint64_t seed);

// The samples named in `held_out` (Dataset::name, e.g. membrane stems "25".."29") validate, the others train.
// Throws std::invalid_argument naming an unknown stem.
Split split_by_names(const Dataset& dataset, const std::vector<std::string>& held_out);

// "25-29,31,cat" -> {"25", "26", "27", "28", "29", "31", "cat"}: numeric ranges expand, other names stay. A range
// whose first number has leading zeros keeps its width ("008-010" -> "008", "009", "010"). Ranges expand to at most
// kMaxRangeNames names in all (std::invalid_argument beyond).
inline constexpr int64_t kMaxRangeNames = 1'000'000;
std::vector<std::string> parse_name_list(const std::string& list);

}  // namespace tg::data
