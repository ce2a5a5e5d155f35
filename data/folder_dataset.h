// Images and masks in two folders, paired by file stem, brought to the model's input size.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/folder_scan.h"
#include "data/mask.h"
#include "data/mask_survey.h"
#include "data/resize.h"

namespace tg::data {

enum class SizeMode {
  Resize,  // bilinear for images, nearest for masks (membrane: 512x512 -> 256x256)
  Crop,    // a random crop in training (when get() is given a generator), the centre crop otherwise
};


struct FolderOptions {
  std::filesystem::path root;       // holds the image and mask folders
  std::string image_dir, mask_dir;  // "" = detect (images+masks, image+label, ...)
  std::string mask_suffix;          // mask stem = image stem + suffix, e.g. "_mask"
  MaskEncoding mask = MaskEncoding::binary();
  int num_classes = 2;
  int ignore_index = -1;  // -1 = none
  int channels = 0;       // 1 or 3; 0 = as the first image (grey -> 1, colour -> 3). Alpha is dropped.
  int height = 256, width = 256;  // model input (Keras's flow_from_directory default target_size)
  SizeMode size_mode = SizeMode::Resize;
  Interpolation interpolation = Interpolation::Bilinear;  // images under SizeMode::Resize
  // Interpolation::Nearest in training (when get() is given a generator): each sample reads a random pixel of every
  // source cell (one offset per sample, image and mask alike) instead of the centre one: for a 512 -> 256 halving,
  // the four exactly aligned 256x256 images each file holds instead of one. Without a generator, the centre.
  // Needs SizeMode::Resize and Interpolation::Nearest.
  bool random_phase = false;
  bool skip_bad = false;  // leave bad pairs out with a warning each, instead of throwing
  bool cache = false;     // decode every pair once, up front, and keep it in memory
};

class FolderDataset : public Dataset {
 public:
  // Pairs the files and checks every header (size, channels). With skip_bad or cache every pair is also
  // decoded now, so truncated files and bad mask values are found before training starts; otherwise they
  // are reported (naming the file) by get(). The masks (all of them, or up to 32 spread over the set when
  // nothing is decoded up front) are checked against the encoding: binary masks whose values all look like class
  // ids (index masks read as binary, every pixel class 0) throw a DataError naming the encoding to use.
  // Never writes anything.
  explicit FolderDataset(FolderOptions options);

  size_t size() const override { return pairs_.size(); }
  const DatasetSpec& spec() const override { return spec_; }
  Sample get(size_t index, Rng* rng = nullptr) const override;
  // Sample `index` as its files hold it, at their own size (decoded and checked, neither resized nor cropped).
  Sample get_full_size(size_t index) const;
  std::string name(size_t index) const override { return pairs_.at(index).stem; }

  const FilePair& pair(size_t index) const { return pairs_.at(index); }
  const std::vector<BadFile>& skipped() const { return skipped_; }  // what skip_bad left out, and why
  const FolderLayout& layout() const { return layout_; }
  // Index of the pair with this stem; throws std::out_of_range naming it when absent.
  size_t index_of(const std::string& stem) const;

 private:
  // Decoded, checked, not yet resized; notes the mask's values in `survey` when given.
  Sample load_full_size(const FilePair& pair, MaskSurvey* survey = nullptr) const;
  Sample fit_to_input(Sample full, const FilePair& pair, Rng* rng) const;
  // The cache holds the files' own size when get() draws from it (crops, random phases).
  bool caches_full_size() const { return options_.size_mode == SizeMode::Crop || options_.random_phase; }

  FolderOptions options_;
  FolderLayout layout_;
  DatasetSpec spec_;
  std::vector<FilePair> pairs_;
  std::vector<BadFile> skipped_;
  std::vector<Sample> cache_;  // filled by the constructor when options_.cache: at the input size in resize
                               // mode, at full size in crop mode
};

}  // namespace tg::data
