// The image and mask loader: probe_image and read_image (stb_image behind the file, size and pixel-count checks),
// then what the folder dataset does with a decoded file: image_tensor for 1- and 3-channel models and decode_mask
// under each encoding. Seeds: PNG (8- and 16-bit), JPEG, BMP and TGA files.
#include "data/image_io.h"
#include "data/mask.h"
#include "fuzz/fuzz_support.h"

using namespace tg;
using namespace tg::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::Scratch scratch;
  // One megapixel keeps each execution quick; the cap's check is the same code at any value.
  static const bool limited = (set_image_limits({.max_pixels = 1 << 20, .max_file_bytes = 1 << 24}), true);
  (void)limited;
  const std::filesystem::path path = scratch.write("input.png", data, size);
  const std::string name = path.string();
  ImageInfo info;
  const bool probed = fuzz::accepts(name, [&] { info = probe_image(path); });
  RawImage raw;
  if (!fuzz::accepts(name, [&] { raw = read_image(path); })) return 0;
  if (!probed || info.width != raw.width || info.height != raw.height)
    fuzz::finding("probe_image and read_image disagree about " + name);
  if (raw.pixels.size() != static_cast<size_t>(raw.width) * raw.height * raw.channels)
    fuzz::finding("read_image returned a pixel buffer of the wrong size");
  for (int channels : {1, 3}) fuzz::accepts(name, [&] { image_tensor(raw, channels, path); });
  const std::vector<PaletteEntry> palette = {{{0, 0, 0}, 0, ""}, {{255, 255, 255}, 1, ""}, {{128, 0, 0}, 2, ""}};
  for (const MaskEncoding& encoding :
       {MaskEncoding::binary(), MaskEncoding::index(), MaskEncoding::from_palette(palette)})
    fuzz::accepts(name, [&] { decode_mask(raw, encoding, {.num_classes = 3, .ignore_index = 255}, path); });
  return 0;
}
