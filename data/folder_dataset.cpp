#include "data/folder_dataset.h"

#include <exception>
#include <optional>
#include <spdlog/spdlog.h>

#include "data/data_error.h"
#include "data/image_io.h"
#include "data/mask_survey.h"
#include "data/resize.h"

namespace tg::data {

namespace {

std::string size_str(int h, int w) { return std::to_string(w) + "x" + std::to_string(h); }

void check_options(const FolderOptions& o) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("FolderDataset: " + what); };
  if (o.height <= 0 || o.width <= 0) fail("the input size " + size_str(o.height, o.width) + " must be positive");
  if (o.channels != 0 && o.channels != 1 && o.channels != 3) fail("channels must be 1, 3 or 0 (as the files)");
  if (o.num_classes < 2) fail("num_classes must be at least 2 (binary masks give classes 0 and 1)");
  if (o.mask.kind == MaskEncoding::Kind::Binary && o.num_classes != 2)
    fail("binary masks give 2 classes, but num_classes is " + std::to_string(o.num_classes) +
         "; for more, use FolderOptions::mask = MaskEncoding::index() or MaskEncoding::from_palette(...)");
  if (o.ignore_index != -1 && o.ignore_index < o.num_classes)
    fail("the ignore index " + std::to_string(o.ignore_index) + " is one of the classes [0, " +
         std::to_string(o.num_classes) + "); choose a value >= num_classes, e.g. 255");
  if (o.random_phase && (o.size_mode != SizeMode::Resize || o.interpolation != Interpolation::Nearest))
    fail("random_phase picks which source pixel a nearest-neighbour resize reads; it needs SizeMode::Resize with "
         "Interpolation::Nearest");
}

// Without decoding everything up front, a sample of the masks spread over the set: enough to tell index masks from
// binary ones, and cheap beside a training run. Unreadable masks are left to get() to report.
MaskSurvey survey_masks(const std::vector<FilePair>& pairs, const MaskEncoding& encoding) {
  constexpr size_t kMasksScanned = 32;
  const size_t n = std::min(pairs.size(), kMasksScanned);
  std::vector<MaskSurvey> surveys(n);
#pragma omp parallel for schedule(dynamic)
  for (size_t k = 0; k < n; ++k) {
    try {
      surveys[k].add(read_image(pairs[k * pairs.size() / n].mask), encoding);
    } catch (const DataError&) {
    }
  }
  MaskSurvey all;
  for (const MaskSurvey& s : surveys) all.merge(s);
  return all;
}

}  // namespace

FolderDataset::FolderDataset(FolderOptions options) : options_(std::move(options)) {
  check_options(options_);
  layout_ = resolve_layout(options_.root, options_.image_dir, options_.mask_dir);
  std::vector<FilePair> found = pair_by_stem(layout_, options_.mask_suffix, options_.skip_bad, skipped_);
  spec_ = {options_.height, options_.width, options_.channels, options_.num_classes, options_.ignore_index};

  auto reject = [&](const DataError& e) {
    if (!options_.skip_bad) throw e;
    spdlog::warn("skipping {}", e.what());
    skipped_.push_back({e.file(), e.what()});
  };
  // Headers first: cheap, and they catch unreadable files and mismatched sizes in any mode.
  for (const FilePair& p : found) {
    try {
      const ImageInfo img = probe_image(p.image), msk = probe_image(p.mask);
      if (img.height != msk.height || img.width != msk.width)
        throw DataError(p.mask, "is " + size_str(msk.height, msk.width) + " but its image '" + p.image.string() +
                                    "' is " + size_str(img.height, img.width) + "; a mask must match its image");
      if (options_.size_mode == SizeMode::Crop && (img.height < spec_.height || img.width < spec_.width))
        throw DataError(p.image, "is " + size_str(img.height, img.width) + ", smaller than the " +
                                     size_str(spec_.height, spec_.width) + " input; crop needs larger images (or use resize)");
      if (spec_.channels == 0) spec_.channels = img.channels >= 3 ? 3 : 1;
      pairs_.push_back(p);
    } catch (const DataError& e) {
      reject(e);
    }
  }
  MaskSurvey survey;
  if (options_.skip_bad || options_.cache) {
    // Decoding in parallel is safe here: the constructor is not a loader worker.
    std::vector<Sample> full(pairs_.size());
    std::vector<std::optional<DataError>> errors(pairs_.size());
    std::vector<MaskSurvey> surveys(pairs_.size());
#pragma omp parallel for schedule(dynamic)
    for (size_t i = 0; i < pairs_.size(); ++i) {
      try {
        full[i] = load_full_size(pairs_[i], &surveys[i]);
      } catch (const DataError& e) {
        errors[i] = e;
      }
    }
    std::vector<FilePair> kept;
    for (size_t i = 0; i < pairs_.size(); ++i) {
      if (errors[i]) {
        reject(*errors[i]);
        continue;
      }
      kept.push_back(pairs_[i]);
      survey.merge(surveys[i]);
      // A plain resize is deterministic, so it is cached too; crops and random phases are drawn per get() from the
      // full size.
      if (options_.cache)
        cache_.push_back(caches_full_size() ? std::move(full[i]) : fit_to_input(std::move(full[i]), kept.back(), nullptr));
    }
    pairs_ = std::move(kept);
  } else if (options_.mask.kind == MaskEncoding::Kind::Binary) {
    survey = survey_masks(pairs_, options_.mask);
  }
  check_mask_survey(survey, options_.mask, layout_.mask_dir);
  if (!skipped_.empty())
    spdlog::warn("{}: skipped {} bad file(s), kept {} pairs", options_.root.string(), skipped_.size(), pairs_.size());
  if (pairs_.empty()) throw DataError(options_.root, "no usable image/mask pair is left after skipping bad files");
}

size_t FolderDataset::index_of(const std::string& stem) const {
  for (size_t i = 0; i < pairs_.size(); ++i)
    if (pairs_[i].stem == stem) return i;
  throw std::out_of_range("no image with stem '" + stem + "' in '" + layout_.image_dir.string() + "'");
}

Sample FolderDataset::load_full_size(const FilePair& p, MaskSurvey* survey) const {
  const RawImage img = read_image(p.image);
  const RawImage msk = read_image(p.mask);
  if (survey) survey->add(msk, options_.mask);
  if (img.height != msk.height || img.width != msk.width)
    throw DataError(p.mask, "is " + size_str(msk.height, msk.width) + " but its image is " +
                                size_str(img.height, img.width));
  Sample s;
  s.image = image_tensor(img, spec_.channels, p.image);
  const std::vector<float> ids =
      decode_mask(msk, options_.mask, {spec_.num_classes, spec_.ignore_index}, p.mask);
  s.labels = Tensor::from(std::span<const float>(ids), {msk.height, msk.width});
  return s;
}

Sample FolderDataset::fit_to_input(Sample full, const FilePair& p, Rng* rng) const {
  const int H = static_cast<int>(full.image.dim(0)), W = static_cast<int>(full.image.dim(1));
  const int h = spec_.height, w = spec_.width;
  if (options_.size_mode == SizeMode::Resize && rng && options_.random_phase) {
    // One offset for the whole sample, image and mask alike: still the same source pixels in both.
    const double phase_y = rng->uniform(), phase_x = rng->uniform();
    return {resize_nearest(full.image, h, w, phase_y, phase_x), resize_nearest(full.labels, h, w, phase_y, phase_x)};
  }
  if (options_.size_mode == SizeMode::Resize)
    return {resize_image(full.image, h, w, options_.interpolation), resize_nearest(full.labels, h, w)};
  if (H < h || W < w)
    throw DataError(p.image, "is " + size_str(H, W) + ", smaller than the " + size_str(h, w) + " crop");
  const int top = rng ? static_cast<int>(rng->uniform_int(H - h + 1)) : (H - h) / 2;
  const int left = rng ? static_cast<int>(rng->uniform_int(W - w + 1)) : (W - w) / 2;
  return {crop(full.image, top, left, h, w), crop(full.labels, top, left, h, w)};
}

Sample FolderDataset::get(size_t index, Rng* rng) const {
  const FilePair& p = pairs_.at(index);
  // resize/crop always copy (also to the same size), so a cached sample is never handed out to be augmented
  // in place.
  return fit_to_input(cache_.empty() ? load_full_size(p) : cache_[index], p, rng);
}

Sample FolderDataset::get_full_size(size_t index) const {
  const FilePair& p = pairs_.at(index);
  const bool cached_full = !cache_.empty() && caches_full_size();
  return cached_full ? cache_[index] : load_full_size(p);
}

}  // namespace tg::data
