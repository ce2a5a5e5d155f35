#include "data/split.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace tg::data {

namespace {
constexpr uint64_t kSplitStream = 0x5b11'7000ULL;

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}
}  // namespace

std::vector<size_t> all_indices(size_t n) {
  std::vector<size_t> v(n);
  std::iota(v.begin(), v.end(), size_t{0});
  return v;
}

Split split_by_fraction(size_t n, double fraction, uint64_t seed) {
  if (!(fraction >= 0.0 && fraction < 1.0))
    throw std::invalid_argument("validation fraction must be in [0, 1), got " + std::to_string(fraction));
  size_t n_val = static_cast<size_t>(std::lround(fraction * static_cast<double>(n)));
  if (fraction > 0 && n_val == 0) n_val = 1;
  if (n_val >= n)
    throw std::invalid_argument("a validation fraction of " + std::to_string(fraction) + " leaves no training sample out of " +
                                std::to_string(n));
  std::vector<size_t> order = all_indices(n);
  Rng rng = Rng::derive(seed, kSplitStream);
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.uniform_int(i)]);
  Split s{{order.begin(), order.end() - static_cast<std::ptrdiff_t>(n_val)},
          {order.end() - static_cast<std::ptrdiff_t>(n_val), order.end()}};
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.validation.begin(), s.validation.end());
  return s;
}

Split split_by_names(const Dataset& dataset, const std::vector<std::string>& held_out) {
  std::unordered_map<std::string, size_t> by_name;
  for (size_t i = 0; i < dataset.size(); ++i) by_name.emplace(dataset.name(i), i);
  std::vector<bool> is_val(dataset.size(), false);
  for (const std::string& name : held_out) {
    const auto it = by_name.find(name);
    if (it == by_name.end())
      throw std::invalid_argument("held-out sample '" + name + "' is not in the dataset (names are file stems)");
    is_val[it->second] = true;
  }
  Split s;
  for (size_t i = 0; i < dataset.size(); ++i) (is_val[i] ? s.validation : s.train).push_back(i);
  if (s.train.empty()) throw std::invalid_argument("every sample is held out; nothing is left to train on");
  return s;
}

std::vector<std::string> parse_name_list(const std::string& list) {
  std::vector<std::string> names;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (item.empty()) continue;
    const auto dash = item.find('-');
    const std::string lo = item.substr(0, dash), hi = dash == std::string::npos ? "" : item.substr(dash + 1);
    if (dash != std::string::npos && all_digits(lo) && all_digits(hi)) {
      if (lo.size() > 12 || hi.size() > 12)
        throw std::invalid_argument("range '" + item + "': numbers of more than 12 digits are not file stems");
      const int64_t a = std::stoll(lo), b = std::stoll(hi);
      if (b < a) throw std::invalid_argument("range '" + item + "' runs backwards");
      // The cap holds for the whole list: ten ranges of a million names each took 2.3 s and 530 MB.
      if (b - a >= kMaxRangeNames - static_cast<int64_t>(names.size()))
        throw std::invalid_argument("range '" + item + "' names " + std::to_string(b - a + 1) + " files" +
                                    (names.empty() ? "" : " after " + std::to_string(names.size()) + " others") +
                                    "; a list names at most " + std::to_string(kMaxRangeNames));
      // "00001-00012" names zero-padded stems as `tapegrad synth` writes them; "1-12" names unpadded ones.
      const size_t width = lo.size() > 1 && lo[0] == '0' ? lo.size() : 0;
      for (int64_t v = a; v <= b; ++v) {
        std::string name = std::to_string(v);
        if (name.size() < width) name.insert(0, width - name.size(), '0');
        names.push_back(std::move(name));
      }
    } else {
      names.push_back(item);
    }
  }
  return names;
}

}  // namespace tg::data
