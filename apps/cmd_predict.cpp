// tapegrad predict: masks (and overlays) for one image or a folder of images, at each input's original size.
#include <filesystem>
#include <fstream>
#include <map>
#include <iostream>

#include <nlohmann/json.hpp>
#include <omp.h>

#include "apps/cli_wording.h"
#include "apps/commands.h"
#include "apps/precision_option.h"
#include "apps/train_data.h"
#include "data/image_io.h"
#include "train/checkpoint.h"
#include "train/predict.h"
#include "train/render.h"

namespace fs = std::filesystem;

namespace tg::app {

namespace {
std::vector<fs::path> list_inputs(const fs::path& input) {
  if (!fs::exists(input)) throw std::runtime_error(input.string() + ": no such file or folder");
  if (!fs::is_directory(input)) return {input};
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(input))
    if (entry.is_regular_file() && data::is_image_extension(entry.path())) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw std::runtime_error(input.string() + ": no images (png, jpg, bmp, tga) in this folder");
  // a.png and a.bmp would both write a_mask.png, the second replacing the first: refuse before writing anything.
  std::map<fs::path, fs::path> by_stem;
  for (const fs::path& file : files)
    if (auto [it, added] = by_stem.emplace(file.stem(), file); !added)
      throw std::runtime_error(input.string() + ": " + it->second.filename().string() + " and " +
                               file.filename().string() + " would both be written as " +
                               file.stem().string() + "_mask.png; rename one or predict them separately");
  return files;
}
}  // namespace

Command add_predict_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("predict", "Segment images with a trained model");
  struct Options {
    std::string checkpoint, input, out, fit, interpolation, precision = "float32";
    bool overlay = true, raw = false, flips = false;
    int overlap = -1, threads = 0, mirror = 0;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--checkpoint", o->checkpoint, "Checkpoint or weights file (e.g. RUN_DIR/checkpoints/best.safetensors)")
      ->required()->check(CLI::ExistingFile);
  cmd->add_option("--input", o->input, "An image file or a folder of images")->required();
  cmd->add_option("--out", o->out, "Folder for NAME_mask.png (and NAME_overlay.png)")->required();
  cmd->add_flag("--overlay,!--no-overlay", o->overlay, "Also write the image with the mask tinted on top")
      ->capture_default_str();
  cmd->add_flag("--raw", o->raw, "Mask pixels hold the class ids themselves (default: spread over 0..255)");
  cmd->add_option("--fit", o->fit,
                  "Images of another size than the model's input: tile (overlapping windows at full resolution) or "
                  "resize (to the input size and back). Default: resize when the run trained on resized images, "
                  "else tile")
      ->check(CLI::IsMember({"tile", "resize"}));
  cmd->add_option("--interpolation", o->interpolation,
                  "With --fit resize: how the image is shrunk to the input size, bilinear or nearest (default: as the "
                  "run trained)")
      ->check(CLI::IsMember({"bilinear", "nearest"}));
  cmd->add_option("--overlap", o->overlap, "Tile overlap in pixels (default: a quarter of the input size)")
      ->check(kNonNegative);
  cmd->add_option("--mirror", o->mirror,
                  "With --fit tile: mirror the image outwards by this many pixels first (the U-Net paper's "
                  "overlap-tile strategy: border pixels get context on every side)")
      ->check(CLI::Range(0, 4096));
  cmd->add_flag("--tta", o->flips,
                "Test-time augmentation: average the predictions of the image flipped (and, if square, transposed) "
                "in all 4 (8) ways; 4 (8) times the work");
  cmd->add_option("--threads", o->threads, "Threads (default: all cores)")->check(kThreadCount);
  add_precision_option(*cmd, o->precision);
  add_image_limit_option(*cmd);
  return [o] {
    if (o->threads > 0) omp_set_num_threads(o->threads);
    apply_precision(o->precision);
    Model model = train::load_trained_model(o->checkpoint);
    train::PredictImageOptions options;
    const std::string fit = o->fit.empty() ? predict_fit_of_run(o->checkpoint) : o->fit;
    if (fit != "tile" && fit != "resize")
      throw std::runtime_error("--fit " + fit + " (from the run's config.json): expected tile or resize");
    options.fit = fit == "resize" ? train::ImageFit::Resize : train::ImageFit::Tile;
    options.interpolation =
        o->interpolation.empty() ? interpolation_of_run(o->checkpoint) : interpolation_from(o->interpolation);
    options.overlap = o->overlap;
    options.mirror_margin = o->mirror;
    options.flips = o->flips;
    const int channels = static_cast<int>(model.input_shape()[2]);
    const int classes = static_cast<int>(std::max<int64_t>(model.output_shape().back(), 2));
    fs::create_directories(o->out);
    for (const fs::path& file : list_inputs(o->input)) {
      const Tensor image = data::image_tensor(data::read_image(file), channels, file);
      const Tensor mask = argmax(train::predict_image(model, image, options));
      const fs::path stem = fs::path(o->out) / file.stem();
      train::write_png(stem.string() + "_mask.png", train::grey_from_classes(mask, classes, o->raw));
      if (o->overlay) train::write_png(stem.string() + "_overlay.png", train::overlay(image, mask));
      std::cout << file.string() << " -> " << stem.string() << "_mask.png (" << image.dim(1) << "x" << image.dim(0)
                << ")\n";
    }
    return 0;
  };
}

}  // namespace tg::app
