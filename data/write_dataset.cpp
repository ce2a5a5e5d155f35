#include "data/write_dataset.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "data/data_error.h"
#include "data/image_io.h"

namespace tg::data {

namespace fs = std::filesystem;

void write_dataset(const Dataset& dataset, const fs::path& dir, MaskFormat format) {
  const DatasetSpec& spec = dataset.spec();
  if (format == MaskFormat::Auto)
    format = spec.num_classes == 2 && spec.ignore_index < 0 ? MaskFormat::Binary255 : MaskFormat::Index;
  if (format == MaskFormat::Binary255 && spec.num_classes != 2)
    throw DataError(dir, "0/255 masks hold two classes, the dataset has " + std::to_string(spec.num_classes));
  if (format == MaskFormat::Index && (spec.num_classes > 256 || spec.ignore_index > 255))
    throw DataError(dir, "8-bit index masks hold class ids and the ignore index up to 255");

  const fs::path images = dir / "images", masks = dir / "masks";
  for (const fs::path& d : {images, masks}) {
    std::error_code ec;
    if (fs::exists(d) && !fs::is_empty(d, ec))
      throw DataError(d, "already holds files; write the dataset to a new folder");
    fs::create_directories(d, ec);
    if (ec) throw DataError(d, "cannot be created: " + ec.message());
  }

  const int H = spec.height, W = spec.width, C = spec.channels;
  std::vector<uint8_t> image_bytes(static_cast<size_t>(H) * W * C), mask_bytes(static_cast<size_t>(H) * W);
  for (size_t i = 0; i < dataset.size(); ++i) {
    const Sample s = dataset.get(i);
    const float* img = s.image.data<float>();
    for (size_t k = 0; k < image_bytes.size(); ++k)
      image_bytes[k] = static_cast<uint8_t>(std::lround(std::clamp(img[k], 0.0f, 1.0f) * 255.0f));
    const float* lab = s.labels.data<float>();
    for (size_t k = 0; k < mask_bytes.size(); ++k)
      mask_bytes[k] = static_cast<uint8_t>(format == MaskFormat::Binary255 ? (lab[k] > 0.5f ? 255 : 0) : lab[k]);
    const std::string name = dataset.name(i) + ".png";
    write_png(images / name, H, W, C, image_bytes);
    write_png(masks / name, H, W, 1, mask_bytes);
  }
}

}  // namespace tg::data
