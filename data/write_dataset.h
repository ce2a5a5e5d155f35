// Writing a dataset as image/mask PNG folders, so users see the format the folder loader expects.
#pragma once
#include <filesystem>

#include "data/dataset.h"

namespace tg::data {

enum class MaskFormat {
  Auto,     // Binary255 for two classes without an ignore index, Index otherwise
  Binary255,  // class 1 -> 255, class 0 -> 0 (read back with the "binary" mask spec)
  Index,    // pixel value = class id, ignored pixels = the ignore index (read back with "index")
};

// DIR/images/NAME.png (8-bit grey or RGB) and DIR/masks/NAME.png (8-bit grey) for every sample, with NAME =
// dataset.name(i). Creates the folders; refuses (DataError) when either already holds files, so that it
// never overwrites anyone's data.
void write_dataset(const Dataset& dataset, const std::filesystem::path& dir, MaskFormat format = MaskFormat::Auto);

}  // namespace tg::data
