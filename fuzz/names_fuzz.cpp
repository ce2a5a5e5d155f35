// The name lists of --names and --val-names ("25-29,31,cat", "00001-00012"): parse_name_list must expand or refuse
// (std::invalid_argument naming the range) within the size cap, and what it returns must be non-empty names without
// separators.
#include "data/split.h"
#include "fuzz/fuzz_support.h"

using namespace tg::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string list(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> names;
  try {
    names = parse_name_list(list);
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).empty()) tg::fuzz::finding("an empty message");
    return 0;
  } catch (const std::exception& e) {
    tg::fuzz::finding(std::string("not std::invalid_argument: ") + e.what());
  }
  for (const std::string& name : names)
    if (name.empty() || name.find(',') != std::string::npos)
      tg::fuzz::finding("parse_name_list returned the name '" + name + "'");
  return 0;
}
