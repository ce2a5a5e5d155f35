// The data flags of `train` and `evaluate`: where the images and masks are (or the built-in synthetic set), how
// masks encode classes, how samples are split into training and validation, and the augmentation.
#pragma once
#include <CLI/CLI.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "apps/model_options.h"
#include "data/data.h"
#include "train/data_source.h"

namespace tg::app {

struct DataOptions {
  std::string data = "synthetic";  // a folder, or "synthetic"
  std::string image_dir, mask_dir;  // "" = detected (images/masks, image/label, ...)
  std::string mask = "binary";      // binary | binary:T | index | palette:FILE
  int ignore_index = -1;
  std::string val;                  // a separate validation folder
  std::string val_names;            // held-out stems, e.g. "25-29"
  double val_split = 0.2;           // used when neither --val nor --val-names is given
  std::string fit = "resize";       // resize | crop: how images of another size reach the input size
  std::string interpolation = "bilinear";  // bilinear | nearest: how --fit resize samples images (masks: nearest)
  bool random_phase = false;               // nearest in training: a random pixel of each source cell
  bool cache = true, skip_bad = false;
  int synthetic_count = 256;
  bool augment = false;             // flips and 90-degree rotations
  bool augment_affine = false;      // plus Keras-style small affine transforms (rotation, shift, shear, zoom)
  double jitter = 0.0;              // brightness/contrast jitter
  // --augmentation: a preset (flips, keras, unet-paper, strong) or a JSON object of data::AugmentOptions' fields
  // (a file given as @FILE is stored as its content, so the run records what it used). Replaces the three above.
  std::string augmentation;
  std::string class_names;          // "membrane,cell": names of classes 0, 1, ... for the report and evaluate

  std::optional<data::AugmentOptions> augment_options() const;
  // The names of --class-names; throws CLI::ValidationError when there are more than `classes`.
  std::vector<std::string> class_name_list(int classes) const;
  std::string describe() const;  // "synthetic shapes" / "DIR"
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DataOptions, data, image_dir, mask_dir, mask, ignore_index, val, val_names,
                                                val_split, fit, interpolation, random_phase, cache, skip_bad, synthetic_count, augment,
                                                augment_affine, jitter, augmentation, class_names)

void add_data_options(CLI::App& cmd, DataOptions& options);  // includes add_image_limit_option
// What only training reads: the validation split, augmentation and --random-phase (evaluate refuses them).
void add_training_data_options(CLI::App& cmd, DataOptions& options);
void add_class_names_option(CLI::App& cmd, DataOptions& options);  // --class-names (train, evaluate)

// The augmentation a --augmentation value names: a preset, or a JSON object whose keys must all be known and whose
// values must be in range. Throws std::invalid_argument saying which.
data::AugmentOptions augmentation_from(const std::string& spec);

// --max-image-pixels: raises (or lowers) data::ImageLimits::max_pixels for this process. Not a setting of the run: it
// changes which files are accepted, never the results.
void add_image_limit_option(CLI::App& cmd);

struct TrainingData {
  train::DataSource train, validation;  // validation.dataset is null when there is none
  std::string predict_fit;               // "resize" when images were resized to the input, else "tile"
  std::string predict_interpolation;     // how they were resized: bilinear | nearest
};

// Builds the datasets and the split. Folder data fixes the model's channels (from the files, unless given) and
// checks that the mask encoding fits the model's classes.
TrainingData make_training_data(const DataOptions& options, ModelOptions& model, uint64_t seed);
// One dataset (all samples) for evaluation, at the model's input size.
std::shared_ptr<const data::Dataset> make_dataset(const DataOptions& options, const Shape& input_shape, int num_classes,
                                                  uint64_t seed);

// How `predict` should bring whole images to the input size for the run a checkpoint belongs to: "resize" when the
// run trained on images resized to its input size (its config.json says so), else "tile".
std::string predict_fit_of_run(const std::filesystem::path& checkpoint);
// How that run resized images (its config.json's "predict_interpolation"; bilinear when it says nothing).
data::Interpolation interpolation_of_run(const std::filesystem::path& checkpoint);
data::Interpolation interpolation_from(const std::string& name);  // "bilinear" | "nearest"
// The loss that run trained and validated with (its config.json's fit "loss", e.g. "crossentropy+dice"), so that
// `evaluate` reports what the run logged as val_loss; "auto" (the crossentropy matching the output) when it says
// nothing (a weights file without a run).
std::string loss_of_run(const std::filesystem::path& checkpoint);

}  // namespace tg::app
