#include "data/folder_scan.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <spdlog/spdlog.h>

#include "data/data_error.h"
#include "data/image_io.h"

namespace tg::data {

namespace fs = std::filesystem;

namespace {

// stem -> files of that stem (more than one is an error)
std::map<std::string, std::vector<fs::path>> images_by_stem(const fs::path& dir) {
  std::map<std::string, std::vector<fs::path>> by_stem;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const fs::path& p = e.path();
    if (p.filename().string().starts_with('.') || !e.is_regular_file()) continue;
    if (!is_image_extension(p)) {
      spdlog::debug("ignoring '{}': not a .png/.jpg/.jpeg/.bmp/.tga file", p.string());
      continue;
    }
    by_stem[p.stem().string()].push_back(p);
  }
  if (ec) throw DataError(dir, "cannot be listed: " + ec.message());
  return by_stem;
}

void report(bool skip_bad, std::vector<BadFile>& skipped, const fs::path& file, const std::string& reason) {
  if (!skip_bad) throw DataError(file, reason + " (or pass skip_bad to leave such files out)");
  spdlog::warn("skipping '{}': {}", file.string(), reason);
  skipped.push_back({file, reason});
}

}  // namespace

bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      std::string na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      na.erase(0, std::min(na.find_first_not_of('0'), na.size()));
      nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size()));
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  if ((a.size() - i) != (b.size() - j)) return a.size() - i < b.size() - j;
  return a < b;  // "01" vs "1": any fixed order
}

FolderLayout resolve_layout(const fs::path& root, const std::string& image_dir, const std::string& mask_dir) {
  if (!fs::is_directory(root)) throw DataError(root, "is not a folder (the dataset root must hold the image and mask folders)");
  if (!image_dir.empty() || !mask_dir.empty()) {
    FolderLayout l{root / (image_dir.empty() ? "images" : image_dir), root / (mask_dir.empty() ? "masks" : mask_dir)};
    for (const fs::path& d : {l.image_dir, l.mask_dir})
      if (!fs::is_directory(d)) throw DataError(d, "does not exist or is not a folder; check the folder names given");
    return l;
  }
  static const std::pair<const char*, const char*> kLayouts[] = {
      {"images", "masks"}, {"image", "label"}, {"images", "labels"}, {"image", "mask"}};
  for (const auto& [img, msk] : kLayouts)
    if (fs::is_directory(root / img) && fs::is_directory(root / msk)) return {root / img, root / msk};
  std::string found;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(root, ec))
    if (e.is_directory()) found += (found.empty() ? "" : ", ") + e.path().filename().string();
  throw DataError(root, "has no images+masks, image+label, images+labels or image+mask folders (it has: " +
                            (found.empty() ? std::string("no folders") : found) +
                            "); name the image and mask folders explicitly");
}

std::vector<FilePair> pair_by_stem(const FolderLayout& layout, const std::string& mask_suffix, bool skip_bad,
                                   std::vector<BadFile>& skipped) {
  auto images = images_by_stem(layout.image_dir);
  auto masks = images_by_stem(layout.mask_dir);
  if (images.empty()) throw DataError(layout.image_dir, "holds no .png/.jpg/.jpeg/.bmp/.tga images");
  if (masks.empty()) throw DataError(layout.mask_dir, "holds no .png/.jpg/.jpeg/.bmp/.tga masks");

  std::vector<FilePair> pairs;
  for (const auto& [stem, files] : images) {
    const auto m = masks.find(stem + mask_suffix);
    if (files.size() > 1) {
      report(skip_bad, skipped, files[1], "has the same stem as '" + files[0].string() + "'; keep one of them");
    } else if (m == masks.end()) {
      report(skip_bad, skipped, files[0],
             "has no mask named '" + stem + mask_suffix + ".*' in '" + layout.mask_dir.string() +
                 "'; add the mask or remove the image");
    } else if (m->second.size() > 1) {
      report(skip_bad, skipped, m->second[1], "has the same stem as '" + m->second[0].string() + "'; keep one of them");
    } else {
      pairs.push_back({stem, files[0], m->second[0]});
    }
  }
  for (const auto& [mask_stem, files] : masks) {
    const bool has_suffix = mask_stem.size() >= mask_suffix.size() && mask_stem.ends_with(mask_suffix);
    const std::string stem = has_suffix ? mask_stem.substr(0, mask_stem.size() - mask_suffix.size()) : "";
    if (!has_suffix)
      report(skip_bad, skipped, files[0], "is a mask whose name does not end in '" + mask_suffix + "' as the others do");
    else if (!images.contains(stem))
      report(skip_bad, skipped, files[0],
             "is a mask without an image (looked for '" + stem + ".*' in '" + layout.image_dir.string() +
                 "'); add the image or remove the mask");
  }
  std::sort(pairs.begin(), pairs.end(), [](const FilePair& a, const FilePair& b) { return natural_less(a.stem, b.stem); });
  if (pairs.empty()) throw DataError(layout.image_dir, "has no image with a matching mask");
  return pairs;
}

}  // namespace tg::data
