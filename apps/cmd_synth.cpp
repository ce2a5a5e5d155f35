// tapegrad synth: writes the built-in synthetic dataset as image/mask PNG folders, the layout `train` reads.
#include <iostream>

#include "apps/cli_wording.h"
#include "apps/commands.h"
#include "data/synthetic.h"
#include "data/write_dataset.h"

namespace tg::app {

Command add_synth_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "Write the built-in synthetic dataset as DIR/images + DIR/masks PNGs");
  auto options = std::make_shared<data::SyntheticOptions>();
  auto out = std::make_shared<std::string>();
  auto size = std::make_shared<int>(128);
  cmd->add_option("--out", *out, "Folder to create (must not already hold images or masks)")->required();
  cmd->add_option("--count", options->count, "Number of image/mask pairs")->capture_default_str()->check(kPositive);
  cmd->add_option("--size", *size, "Height and width in pixels")->capture_default_str()->check(CLI::Range(8, 8192));
  cmd->add_option("--classes", options->num_classes, "Classes including the background (class 0)")
      ->capture_default_str()->check(CLI::Range(2, 255));
  cmd->add_option("--channels", options->channels, "1 (grey) or 3 (RGB)")->capture_default_str()->check(CLI::IsMember({1, 3}));
  cmd->add_option("--seed", options->seed, "Random seed")->capture_default_str();
  return [=] {
    options->height = options->width = *size;
    data::SyntheticDataset dataset(*options);
    data::write_dataset(dataset, *out, data::MaskFormat::Index);
    std::cout << "wrote " << options->count << " image/mask pairs of " << *size << "x" << *size << " ("
              << options->num_classes << " classes, mask pixel value = class id) to " << *out
              << "/images and " << *out << "/masks\n"
              << "train on them with: tapegrad train --data " << *out << " --mask index --classes "
              << options->num_classes << " --size " << *size << " --out RUN_DIR\n";
    return 0;
  };
}

}  // namespace tg::app
