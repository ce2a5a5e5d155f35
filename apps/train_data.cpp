#include "apps/train_data.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/cli_wording.h"
#include "optim/json_options.h"

namespace fs = std::filesystem;

namespace tg::app {

data::AugmentOptions augmentation_from(const std::string& spec) {
  if (spec == "flips") return data::AugmentOptions{.horizontal_flip = true, .vertical_flip = true, .rotate90 = true};
  if (spec == "keras") return data::AugmentOptions::keras_membrane();
  if (spec == "unet-paper") return data::AugmentOptions::unet_paper();
  if (spec == "strong") return data::AugmentOptions::strong();
  if (spec.empty() || spec.front() != '{')
    throw std::invalid_argument("'" + spec + "' is neither a preset (flips, keras, unet-paper, strong) nor a JSON object "
                                "such as {\"elastic_sigma\": 10, \"horizontal_flip\": true}");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(spec);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("not valid JSON: ") + e.what());
  }
  const std::string owner = "the augmentation";
  check_known_keys(j, nlohmann::json(data::AugmentOptions{}), owner);
  data::AugmentOptions o = settings_from_json<data::AugmentOptions>(j, owner);
  if (j.contains("fill_mode")) enum_from_json<data::FillMode>(j.at("fill_mode"), owner + "'s fill_mode");
  o.validate();
  return o;
}

std::optional<data::AugmentOptions> DataOptions::augment_options() const {
  if (!augmentation.empty()) return augmentation_from(augmentation);
  if (!augment && !augment_affine && jitter <= 0) return std::nullopt;
  data::AugmentOptions a = augment_affine ? data::AugmentOptions::keras_membrane() : data::AugmentOptions{};
  if (augment) {
    a.horizontal_flip = a.vertical_flip = true;
    a.rotate90 = true;
  }
  a.brightness = a.contrast = jitter;
  return a;
}

std::vector<std::string> DataOptions::class_name_list(int classes) const {
  std::vector<std::string> names;
  if (class_names.empty()) {
    // A palette that names its classes (CamVid's class_dict.csv) names them here too.
    if (mask.starts_with("palette:")) return data::palette_class_names(data::parse_mask_spec(mask).palette, classes);
    return names;
  }
  std::stringstream in(class_names);
  for (std::string name; std::getline(in, name, ',');) names.push_back(name);
  if (class_names.back() == ',') names.push_back("");
  if (static_cast<int>(names.size()) > classes)
    throw CLI::ValidationError("--class-names", "gives " + std::to_string(names.size()) + " names for " +
                                                    std::to_string(classes) + " classes");
  return names;
}

std::string DataOptions::describe() const { return data == "synthetic" ? "synthetic shapes" : data; }

void add_class_names_option(CLI::App& cmd, DataOptions& o) {
  cmd.add_option("--class-names", o.class_names,
                 "Names of classes 0, 1, ... for the report and the per-class tables, e.g. membrane,cell (default: "
                 "the names in the --mask palette file, if it has them)");
}

void add_image_limit_option(CLI::App& cmd) {
  cmd.add_option_function<int64_t>(
         "--max-image-pixels",
         [](int64_t pixels) {
           data::ImageLimits limits = data::image_limits();
           limits.max_pixels = pixels;
           data::set_image_limits(limits);
         },
         "Refuse image files that declare more pixels than this (default " +
             std::to_string(data::ImageLimits{}.max_pixels) + ", 8192x8192), before decoding them")
      ->check(kPositive);
}

void add_data_options(CLI::App& cmd, DataOptions& o) {
  add_image_limit_option(cmd);
  cmd.add_option("--data", o.data, "Folder with images and masks, or 'synthetic' (the built-in shapes)")
      ->capture_default_str();
  cmd.add_option("--image-dir", o.image_dir, "Image folder inside --data (default: images, image, imgs, ...)");
  cmd.add_option("--mask-dir", o.mask_dir, "Mask folder inside --data (default: masks, label, labels, ...)");
  cmd.add_option("--mask", o.mask, "Mask encoding: binary[:THRESHOLD] (default 127), index (value = class id) or "
                                   "palette:FILE (RGB colours, JSON or CSV)")
      ->capture_default_str();
  cmd.add_option("--ignore-index", o.ignore_index, "Mask value that marks unlabelled pixels (no loss, no metric)");
  cmd.add_option("--fit", o.fit, "Images of another size than --size: resize (bilinear; masks nearest) or crop "
                                 "(random in training, centre otherwise)")
      ->capture_default_str()->check(CLI::IsMember({"resize", "crop"}));
  cmd.add_option("--interpolation", o.interpolation,
                 "How --fit resize samples images: bilinear, or nearest (Keras's flow_from_directory default and the "
                 "Keras membrane U-Net's: image and mask then sample the same pixels). Masks are always nearest")
      ->capture_default_str()->check(CLI::IsMember({"bilinear", "nearest"}));
  cmd.add_flag("--cache,!--no-cache", o.cache, "Decode every file once and keep it in memory")->capture_default_str();
  cmd.add_flag("--skip-bad", o.skip_bad, "Leave out unreadable or inconsistent pairs with a warning instead of failing");
  cmd.add_option("--synthetic-count", o.synthetic_count, "Samples in the synthetic set")
      ->capture_default_str()->check(CLI::Range(2, 1000000));
}

void add_training_data_options(CLI::App& cmd, DataOptions& o) {
  cmd.add_option("--val", o.val, "A separate validation folder (same layout as --data)");
  cmd.add_option("--val-names", o.val_names, "Hold out these file stems for validation, e.g. 25-29");
  cmd.add_option("--val-split", o.val_split, "Fraction held out for validation (seeded)")
      ->capture_default_str()->check(CLI::Range(0.0, 0.9));
  cmd.add_flag("--random-phase", o.random_phase,
               "With --interpolation nearest, in training: each sample reads a random pixel of every source cell "
               "(image and mask alike), not the centre one; a 2x shrink then draws from 4 aligned images per file");
  auto* augmentation =
      cmd.add_option("--augmentation", o.augmentation,
                     "Augmentation preset (flips, keras, unet-paper: flips + 90-degree turns + the U-Net paper's "
                     "elastic deformation, strong: unet-paper + any-angle affine, gamma, blur, noise) or a JSON object "
                     "of fields (elastic_sigma, elastic_grid, rotation_deg, zoom, shear_deg, width_shift, brightness, "
                     "contrast, gamma, blur_sigma, noise_std, fill_mode, ...), or @FILE holding one")
          ->transform(CLI::Validator(
              [](std::string& spec) {
                try {
                  if (spec.starts_with("@")) {  // stored as the file's content: config.json records what was used
                    std::ifstream in(spec.substr(1));
                    if (!in) return "cannot read " + spec.substr(1);
                    spec = nlohmann::json::parse(in).dump();
                  }
                  augmentation_from(spec);
                  return std::string();
                } catch (const std::exception& e) {
                  return std::string(e.what());
                }
              },
              "PRESET|JSON|@FILE"));
  cmd.add_flag("--augment", o.augment, "Random flips and 90-degree rotations (image and mask together)")
      ->excludes(augmentation);
  cmd.add_flag("--augment-affine", o.augment_affine,
               "Small affine transforms as the Keras membrane U-Net uses (rotation, shift, shear, zoom)")
      ->excludes(augmentation);
  cmd.add_option("--jitter", o.jitter, "Brightness/contrast jitter amplitude")
      ->check(CLI::Range(0.0, 1.0))
      ->excludes(augmentation);
}

namespace {
int dataset_classes(const ModelOptions& model) { return std::max(model.classes, 2); }

std::shared_ptr<data::FolderDataset> folder(const DataOptions& o, const std::string& root, const Shape& input,
                                            int num_classes) {
  data::FolderOptions f;
  f.root = root;
  f.image_dir = o.image_dir;
  f.mask_dir = o.mask_dir;
  f.mask = data::parse_mask_spec(o.mask);
  f.num_classes = num_classes;
  f.ignore_index = o.ignore_index;
  f.channels = static_cast<int>(input[2]);
  f.height = static_cast<int>(input[0]);
  f.width = static_cast<int>(input[1]);
  f.size_mode = o.fit == "crop" ? data::SizeMode::Crop : data::SizeMode::Resize;
  f.interpolation = interpolation_from(o.interpolation);
  f.random_phase = o.random_phase;
  f.skip_bad = o.skip_bad;
  f.cache = o.cache;
  return std::make_shared<data::FolderDataset>(f);
}

std::shared_ptr<data::SyntheticDataset> synthetic(const Shape& input, int num_classes, int count, uint64_t seed) {
  data::SyntheticOptions s;
  s.count = static_cast<size_t>(count);
  s.height = static_cast<int>(input[0]);
  s.width = static_cast<int>(input[1]);
  s.channels = static_cast<int>(input[2]);
  s.num_classes = num_classes;
  s.seed = seed;
  return std::make_shared<data::SyntheticDataset>(s);
}
}  // namespace

std::shared_ptr<const data::Dataset> make_dataset(const DataOptions& o, const Shape& input, int num_classes,
                                                  uint64_t seed) {
  if (o.data == "synthetic") return synthetic(input, num_classes, o.synthetic_count, seed);
  if (!fs::is_directory(o.data)) throw std::runtime_error("--data " + o.data + ": no such folder");
  return folder(o, o.data, input, num_classes);
}

TrainingData make_training_data(const DataOptions& o, ModelOptions& model, uint64_t seed) {
  TrainingData out;
  const int classes = dataset_classes(model);
  if (o.data == "synthetic") {
    if (!o.val.empty())
      throw std::invalid_argument("--val " + o.val + " is a validation folder, which needs --data FOLDER; the "
                                  "synthetic set holds out --val-split or --val-names");
    auto all = synthetic(model.input_shape(), classes, o.synthetic_count, seed);
    const data::Split split = o.val_names.empty() ? data::split_by_fraction(all->size(), o.val_split, seed)
                                                  : data::split_by_names(*all, data::parse_name_list(o.val_names));
    out.train = {all, split.train};
    if (!split.validation.empty()) out.validation = {all, split.validation};
    out.predict_fit = "tile";
    return out;
  }
  if (!fs::is_directory(o.data)) throw std::runtime_error("--data " + o.data + ": no such folder");
  auto all = folder(o, o.data, model.input_shape(), classes);
  if (all->size() == 0) throw std::runtime_error("--data " + o.data + ": no image/mask pairs found");
  const data::FilePair& first = all->pair(0);
  const data::ImageInfo info = data::probe_image(first.image);
  out.predict_fit = (o.fit == "resize" && (info.height != model.input_shape()[0] || info.width != model.input_shape()[1]))
                        ? "resize"
                        : "tile";
  out.predict_interpolation = o.interpolation;
  if (!o.val.empty()) {
    out.train = {all, {}};
    out.validation = {folder(o, o.val, model.input_shape(), classes), {}};
  } else if (!o.val_names.empty()) {
    const data::Split split = data::split_by_names(*all, data::parse_name_list(o.val_names));
    out.train = {all, split.train};
    out.validation = {all, split.validation};
  } else if (o.val_split > 0) {
    const data::Split split = data::split_by_fraction(all->size(), o.val_split, seed);
    out.train = {all, split.train};
    out.validation = {all, split.validation};
  } else {
    out.train = {all, {}};
  }
  return out;
}

namespace {
// The config.json of the run a checkpoint belongs to (in the run folder, or beside the file); null when none.
nlohmann::json config_of_run(const std::filesystem::path& checkpoint) {
  namespace fs = std::filesystem;
  for (fs::path dir = fs::absolute(checkpoint).parent_path(); !dir.empty(); dir = dir.parent_path()) {
    const fs::path config = dir / "config.json";
    if (fs::exists(config)) {
      std::ifstream in(config);
      auto j = nlohmann::json::parse(in, nullptr, false);
      return j.is_discarded() ? nlohmann::json() : j;
    }
    if (dir == dir.parent_path() || dir.filename() != "checkpoints") break;
  }
  return {};
}
}  // namespace

std::string predict_fit_of_run(const std::filesystem::path& checkpoint) {
  const nlohmann::json j = config_of_run(checkpoint);
  return j.is_object() && j.contains("predict_fit") ? j["predict_fit"].get<std::string>() : "tile";
}

data::Interpolation interpolation_from(const std::string& name) {
  if (name == "bilinear") return data::Interpolation::Bilinear;
  if (name == "nearest") return data::Interpolation::Nearest;
  throw std::invalid_argument("interpolation " + name + ": expected bilinear or nearest");
}

std::string loss_of_run(const std::filesystem::path& checkpoint) {
  const nlohmann::json j = config_of_run(checkpoint);
  if (!j.is_object() || !j.contains("fit") || !j["fit"].is_object() || !j["fit"].contains("loss") ||
      !j["fit"]["loss"].is_string())
    return "auto";
  return j["fit"]["loss"].get<std::string>();
}

data::Interpolation interpolation_of_run(const std::filesystem::path& checkpoint) {
  const nlohmann::json j = config_of_run(checkpoint);
  // Runs on the synthetic set (nothing resized) record "".
  if (!j.is_object() || !j.contains("predict_interpolation") || j["predict_interpolation"] == "")
    return data::Interpolation::Bilinear;
  try {
    return interpolation_from(j["predict_interpolation"].get<std::string>());
  } catch (const std::exception& e) {
    throw std::runtime_error(checkpoint.string() + ": its run's config.json: " + e.what());
  }
}

}  // namespace tg::app
