#include "data_test_util.h"

#include <algorithm>

using namespace tg::data;

TEST_CASE("split: by fraction is deterministic by seed, disjoint and complete") {
  const Split a = split_by_fraction(50, 0.2, 7), b = split_by_fraction(50, 0.2, 7), c = split_by_fraction(50, 0.2, 8);
  CHECK(a.validation.size() == 10);
  CHECK(a.train.size() == 40);
  CHECK(a.validation == b.validation);
  CHECK(a.validation != c.validation);
  std::vector<size_t> all = a.train;
  all.insert(all.end(), a.validation.begin(), a.validation.end());
  std::sort(all.begin(), all.end());
  CHECK(all == all_indices(50));
  CHECK(std::is_sorted(a.validation.begin(), a.validation.end()));
  CHECK(split_by_fraction(5, 0.01, 0).validation.size() == 1);  // a positive fraction keeps at least one
  CHECK(split_by_fraction(5, 0.0, 0).validation.empty());
  CHECK_THROWS_AS(split_by_fraction(5, 1.0, 0), std::invalid_argument);
  CHECK_THROWS_AS(split_by_fraction(1, 0.5, 0), std::invalid_argument);
}

TEST_CASE("split: held-out names, with numeric ranges") {
  CHECK(parse_name_list("25-29") == std::vector<std::string>{"25", "26", "27", "28", "29"});
  CHECK(parse_name_list(" 3, cat ,10-11,") == std::vector<std::string>{"3", "cat", "10", "11"});
  CHECK(parse_name_list("a-b") == std::vector<std::string>{"a-b"});
  CHECK_THROWS_AS(parse_name_list("9-3"), std::invalid_argument);
  // Zero-padded ranges keep their width, so they select the stems `tapegrad synth` writes.
  CHECK(parse_name_list("00008-00010") == std::vector<std::string>{"00008", "00009", "00010"});
  CHECK(parse_name_list("098-101") == std::vector<std::string>{"098", "099", "100", "101"});
  CHECK(parse_name_list("0-2") == std::vector<std::string>{"0", "1", "2"});
  // Huge ranges are refused before anything is expanded (0-99999999999 took 2 GB).
  CHECK(tg::testing::error_of([] { parse_name_list("0-99999999999"); }).find("at most 1000000") != std::string::npos);
  CHECK(tg::testing::error_of([] { parse_name_list("1-99999999999999999999"); }).find("12 digits") !=
        std::string::npos);

  // The cap counts the whole list, not each range (fuzz/names_fuzz.cpp: "0-999999," ten times took 2.3 s and 530 MB).
  const std::string ten_ranges = [] {
    std::string list;
    for (int i = 0; i < 10; ++i) list += "0-999999,";
    return list;
  }();
  const std::string too_many = tg::testing::error_of([&] { parse_name_list(ten_ranges); });
  CHECK(too_many.find("range '0-999999' names 1000000 files after 1000000 others") != std::string::npos);
  CHECK(tg::testing::error_of([] { parse_name_list("1-600000,x,600001-1000000"); }).find("at most 1000000") !=
        std::string::npos);
  CHECK(parse_name_list("1-500000,500001-1000000").size() == 1000000);

  const SyntheticDataset ds(SyntheticOptions{.count = 6, .height = 4, .width = 4});
  const Split s = split_by_names(ds, parse_name_list("00001,00004"));
  CHECK(s.validation == std::vector<size_t>{1, 4});
  CHECK(s.train == std::vector<size_t>{0, 2, 3, 5});
  const std::string msg = tg::testing::error_of([&] { split_by_names(ds, {"00009"}); });
  CHECK(msg.find("00009") != std::string::npos);
}
