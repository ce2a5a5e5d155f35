// What a set of mask files holds, gathered while they are scanned, to catch an encoding that misreads them: index
// masks (values 0, 1, 2, ...) read as binary with threshold 127 all become class 0, and training would go ahead on
// an empty foreground.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "data/image_io.h"
#include "data/mask.h"

namespace tg::data {

class MaskSurvey {
 public:
  // Notes the grey values of one mask (channel 0; colour masks are the encoding's business) and whether any pixel
  // is above `encoding`'s binary threshold.
  void add(const RawImage& mask, const MaskEncoding& encoding);
  void merge(const MaskSurvey& other);

  size_t masks() const { return masks_; }
  // "0, 1, 2" when every value seen is below 64, else "".
  std::string small_values() const;

 private:
  friend void check_mask_survey(const MaskSurvey&, const MaskEncoding&, const std::filesystem::path&);
  size_t masks_ = 0;
  uint64_t small_ = 0;  // bit v: some pixel has value v (v < 64)
  int64_t largest_ = -1;
  bool above_threshold_ = false;
};

// Throws DataError naming `where` when `encoding` leaves a class empty across the surveyed masks while their values
// look like class ids (two or more distinct values, all below 64): binary masks whose class 1 is empty. The message
// names the encoding to use in the library's terms (FolderOptions::mask = MaskEncoding::index(),
// FolderOptions::num_classes); the command line words it with its flags.
void check_mask_survey(const MaskSurvey& survey, const MaskEncoding& encoding, const std::filesystem::path& where);

}  // namespace tg::data
