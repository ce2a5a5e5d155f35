#include "data/mask_survey.h"

#include <bit>

#include "data/data_error.h"

namespace tg::data {

namespace {
constexpr int64_t kClassIdLimit = 64;  // grey values below this, and nothing else, look like class ids
}

void MaskSurvey::add(const RawImage& mask, const MaskEncoding& encoding) {
  ++masks_;
  // The threshold on the file's own scale, as decode_mask applies it.
  const double threshold = encoding.threshold * (mask.max_value / 255.0);
  const size_t pixels = static_cast<size_t>(mask.height) * mask.width;
  for (size_t i = 0; i < pixels; ++i) {
    const auto v = static_cast<int64_t>(mask.pixels[i * static_cast<size_t>(mask.channels)]);
    if (v < kClassIdLimit) small_ |= uint64_t{1} << v;
    largest_ = std::max(largest_, v);
    above_threshold_ = above_threshold_ || v > threshold;
  }
}

void MaskSurvey::merge(const MaskSurvey& other) {
  masks_ += other.masks_;
  small_ |= other.small_;
  largest_ = std::max(largest_, other.largest_);
  above_threshold_ = above_threshold_ || other.above_threshold_;
}

std::string MaskSurvey::small_values() const {
  if (largest_ < 0 || largest_ >= kClassIdLimit) return "";
  std::string s;
  for (int v = 0; v < kClassIdLimit; ++v)
    if (small_ >> v & 1) s += (s.empty() ? "" : ", ") + std::to_string(v);
  return s;
}

void check_mask_survey(const MaskSurvey& survey, const MaskEncoding& encoding, const std::filesystem::path& where) {
  if (encoding.kind != MaskEncoding::Kind::Binary || survey.masks_ == 0 || survey.above_threshold_) return;
  if (survey.largest_ >= kClassIdLimit || std::popcount(survey.small_) < 2) return;
  const int64_t classes = survey.largest_ + 1;
  throw DataError(where, describe(encoding) + " reads every pixel of the " + std::to_string(survey.masks_) +
                             " mask(s) scanned as class 0, leaving class 1 empty, but the masks hold the values " +
                             survey.small_values() + ", which look like class ids. Read them as class ids: " +
                             "FolderOptions::mask = MaskEncoding::index() with FolderOptions::num_classes = " +
                             std::to_string(std::max<int64_t>(classes, 2)) +
                             " (or more, if some classes are absent from these masks)");
}

}  // namespace tg::data
