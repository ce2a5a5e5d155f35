// Palette files (--mask palette:FILE): JSON ([[r,g,b], ...] or {"id": [r,g,b]}) or CSV ("class,r,g,b" or "r,g,b").
// The first byte chooses the format, the rest is the file. An accepted palette must then decode a mask painted in
// its own colours to its own class ids.
#include "data/image_io.h"
#include "data/mask.h"
#include "fuzz/fuzz_support.h"

using namespace tg::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const tg::fuzz::Scratch scratch;
  if (size == 0) return 0;
  const std::filesystem::path path = scratch.write(data[0] & 1 ? "palette.json" : "palette.csv", data + 1, size - 1);
  MaskEncoding encoding;
  if (!tg::fuzz::accepts(path.string(), [&] { encoding = parse_mask_spec("palette:" + path.string()); })) return 0;
  RawImage mask{
      .height = 1, .width = static_cast<int>(encoding.palette.size()), .channels = 3, .max_value = 255, .pixels = {}};
  int max_id = 0;
  for (const PaletteEntry& e : encoding.palette) {
    for (int c : e.rgb) mask.pixels.push_back(static_cast<float>(c));
    max_id = std::max(max_id, e.class_id);
  }
  const MaskRules rules{.num_classes = max_id + 1, .ignore_index = -1};
  std::vector<float> ids;
  if (!tg::fuzz::accepts(path.string(), [&] { ids = decode_mask(mask, encoding, rules, path); })) return 0;
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] != static_cast<float>(encoding.palette[i].class_id))
      tg::fuzz::finding("a palette colour decodes to another class than the palette gives it");
  return 0;
}
