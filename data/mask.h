// How a mask file's pixels become class ids: binary (threshold), class index (value = id) or an RGB palette.
#pragma once
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "data/image_io.h"

namespace tg::data {

struct PaletteEntry {
  std::array<int, 3> rgb{};
  int class_id = 0;  // may be the ignore index
  std::string name;  // "" when the file names no classes
};

struct MaskEncoding {
  enum class Kind { Binary, Index, Palette };
  Kind kind = Kind::Binary;
  int threshold = 127;                 // Binary: value > threshold is class 1 (on the 0..255 scale)
  std::vector<PaletteEntry> palette;   // Palette
  std::filesystem::path palette_file;  // for messages

  static MaskEncoding binary(int threshold = 127) { return {Kind::Binary, threshold, {}, {}}; }
  static MaskEncoding index() { return {Kind::Index, 127, {}, {}}; }
  static MaskEncoding from_palette(std::vector<PaletteEntry> p, std::filesystem::path file = {}) {
    return {Kind::Palette, 127, std::move(p), std::move(file)};
  }
};

// "binary", "binary:100" (threshold), "index", "palette:FILE" (FILE is .json or .csv). Throws
// std::invalid_argument naming the spec and the accepted forms.
MaskEncoding parse_mask_spec(const std::string& spec);

// A palette file. JSON: [[r,g,b], ...] (class = position), {"id": [r,g,b], ...}, or [{"name": "road", "color":
// [r,g,b]}, ...] (class = position, or the entry's "id"). CSV: lines "class,r,g,b", "r,g,b" or "name,r,g,b" (CamVid's
// class_dict.csv; class = line number among data lines); a header line and lines starting with '#' are skipped.
std::vector<PaletteEntry> load_palette(const std::filesystem::path& file);

// The names a palette gives classes 0 .. num_classes - 1 ("" where it names none; entries of other ids, such as the
// ignore index, are left out); empty when it names no class.
std::vector<std::string> palette_class_names(const std::vector<PaletteEntry>& palette, int num_classes);

struct MaskRules {
  int num_classes = 2;
  int ignore_index = -1;  // -1 = none; otherwise pixels with this id carry no loss and count in no metric
};

// Class ids (HW, as floats; ignored pixels = ignore_index). Throws DataError naming `file` and the first
// offending pixel when a value is outside [0, num_classes) and not the ignore index, or when the channels
// do not fit the encoding (colour pixels in a binary/index mask).
std::vector<float> decode_mask(const RawImage& mask, const MaskEncoding& encoding, const MaskRules& rules,
                               const std::filesystem::path& file);

std::string describe(const MaskEncoding& encoding);  // "binary (threshold 127)", ...

}  // namespace tg::data
