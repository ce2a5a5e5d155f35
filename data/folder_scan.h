// Finding the image and mask folders of a dataset and pairing their files by stem.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace tg::data {

struct FilePair {
  std::string stem;
  std::filesystem::path image, mask;
};

struct BadFile {
  std::filesystem::path file;
  std::string reason;
};

struct FolderLayout {
  std::filesystem::path image_dir, mask_dir;
};

// ROOT/IMAGE_DIR and ROOT/MASK_DIR. Empty names are looked up among the usual layouts (images+masks,
// image+label as in the ISBI membrane set, images+labels, image+mask). Throws DataError naming what is missing.
FolderLayout resolve_layout(const std::filesystem::path& root, const std::string& image_dir = "",
                            const std::string& mask_dir = "");

// Image files of both folders paired by stem (mask stem = image stem + mask_suffix, e.g. "_mask"); a mask may
// be another format than its image. Sorted by stem in natural order ("2" before "10"). An image without a mask,
// a mask without an image, or two files of one stem throw DataError naming the file, unless skip_bad, which
// appends them to `skipped` instead. Files that are not images by extension, and hidden files, are ignored.
std::vector<FilePair> pair_by_stem(const FolderLayout& layout, const std::string& mask_suffix, bool skip_bad,
                                   std::vector<BadFile>& skipped);

// "img2" < "img10": digit runs compare as numbers.
bool natural_less(const std::string& a, const std::string& b);

}  // namespace tg::data
