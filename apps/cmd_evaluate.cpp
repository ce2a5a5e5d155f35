// tapegrad evaluate: pixel accuracy, per-class Dice and IoU and mean IoU of a trained model on a dataset.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "apps/cli_wording.h"
#include "apps/commands.h"
#include "apps/precision_option.h"
#include "apps/train_data.h"
#include "autograd/parallel.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"

namespace tg::app {

Command add_evaluate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("evaluate", "Metrics of a trained model on a dataset (a table, or JSON); the loss is "
                                             "the one its run trained and validated with, as val_loss was");
  struct Options {
    std::string checkpoint, names, precision = "float32";
    DataOptions data;
    int batch = 4, threads = 0;
    bool json = false, flips = false, full_size = false;
    int mirror = 0;
    uint64_t seed = 0;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--checkpoint", o->checkpoint, "Checkpoint or weights file")->required()->check(CLI::ExistingFile);
  add_data_options(*cmd, o->data);
  add_class_names_option(*cmd, o->data);
  cmd->add_option("--names", o->names, "Evaluate only these file stems, e.g. 25-29 (membrane's held-out images)");
  cmd->add_option("--batch", o->batch, "Batch size")->capture_default_str()->check(kPositive);
  cmd->add_option("--seed", o->seed, "Seed of the synthetic set")->capture_default_str()->check(kNonNegative);
  cmd->add_option("--threads", o->threads, "Threads (default: all cores)")->check(kThreadCount);
  add_precision_option(*cmd, o->precision);
  cmd->add_flag("--json", o->json, "Print the metrics as one JSON object");
  cmd->add_flag("--tta", o->flips,
                "Test-time augmentation: average the model's probabilities over flips and transposes (8 views; 4 for "
                "non-square inputs), as `predict --tta` does");
  auto* fit = cmd->get_option("--fit");
  auto* interpolation = cmd->get_option("--interpolation");
  cmd->add_flag("--full-size", o->full_size,
                "Score each image at its files' own size: predicted whole as `predict` does (tiles after --fit crop, "
                "resized and back after --fit resize; without --fit as the run trained) and compared with the mask "
                "as the file holds it (folders only)");
  cmd->add_option("--mirror", o->mirror,
                  "With --full-size and tiles: mirror each image outwards by this many pixels first (as predict)")
      ->check(CLI::Range(0, 4096));
  return [o, fit, interpolation] {
    if (o->threads > 0) set_num_threads(o->threads);
    apply_precision(o->precision);
    Model model = train::load_trained_model(o->checkpoint);
    const Shape input = model.input_shape();
    const int classes = static_cast<int>(std::max<int64_t>(model.output_shape().back(), 2));
    const std::vector<std::string> names = o->data.class_name_list(classes);
    auto dataset = make_dataset(o->data, input, classes, o->seed);
    train::DataSource source{dataset, {}};
    if (!o->names.empty()) source.indices = data::split_by_names(*dataset, data::parse_name_list(o->names)).validation;
    MetricLogs metrics;
    if (o->full_size) {
      const auto folder = std::dynamic_pointer_cast<const data::FolderDataset>(dataset);
      if (!folder) throw std::runtime_error("--full-size scores image files at their own size; --data " + o->data.data +
                                            " has no files (give a folder)");
      train::PredictImageOptions whole;
      const std::string by = fit->count() ? (o->data.fit == "crop" ? "tile" : "resize") : predict_fit_of_run(o->checkpoint);
      whole.fit = by == "resize" ? train::ImageFit::Resize : train::ImageFit::Tile;
      whole.interpolation = interpolation->count() ? interpolation_from(o->data.interpolation)
                                                   : interpolation_of_run(o->checkpoint);
      whole.mirror_margin = o->mirror;
      whole.flips = o->flips;
      metrics = train::evaluate_full_size(model, *folder, source.indices, whole);
    } else {
      if (o->mirror) throw std::runtime_error("--mirror applies to --full-size only");
      train::EvaluateOptions eval;
      eval.batch_size = o->batch;
      eval.flips = o->flips;
      eval.loss = loss_of_run(o->checkpoint);
      metrics = train::evaluate(model, source, eval);
    }
    if (o->json) {
      nlohmann::ordered_json j;
      j["checkpoint"] = o->checkpoint;
      j["samples"] = source.size();
      j["tta"] = o->flips;
      j["full_size"] = o->full_size;
      for (const auto& [k, v] : metrics) j[k] = v;
      std::cout << j.dump() << "\n";
      return 0;
    }
    std::printf("%s on %s (%zu samples%s%s)\n", o->checkpoint.c_str(), o->data.describe().c_str(), source.size(),
                o->full_size ? ", at the files' own size" : "",
                o->flips ? ", test-time augmentation over flips and transposes" : "");
    // The overall figures, then one row per class (the per-class entries are iou_K and dice_K).
    for (const auto& [k, v] : metrics)
      if (!k.starts_with("iou_") && !k.starts_with("dice_")) std::printf("  %-24s %.4f\n", k.c_str(), v);
    size_t width = 8;
    for (const std::string& name : names) width = std::max(width, name.size() + 4);
    std::printf("  %-*s %8s %8s\n", static_cast<int>(width), "class", "IoU", "Dice");
    for (int c = 0; metrics.count("iou_" + std::to_string(c)) && metrics.count("dice_" + std::to_string(c)); ++c) {
      const std::string label =
          std::to_string(c) + (static_cast<size_t>(c) < names.size() && !names[c].empty() ? " " + names[c] : "");
      std::printf("  %-*s %8.4f %8.4f\n", static_cast<int>(width), label.c_str(), metrics.at("iou_" + std::to_string(c)),
                  metrics.at("dice_" + std::to_string(c)));
    }
    return 0;
  };
}

}  // namespace tg::app
