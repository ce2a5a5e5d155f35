// tapegrad summary: the Keras-style table of a zoo model or of the model inside a checkpoint.
#include <iostream>
#include <sstream>

#include "apps/commands.h"
#include "apps/model_options.h"
#include "layers/model.h"
#include "train/checkpoint.h"
#include "train/fit.h"

namespace tg::app {

Command add_summary_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("summary", "Print the Keras-style summary of a model");
  auto model = std::make_shared<ModelOptions>();
  auto checkpoint = std::make_shared<std::string>();
  add_model_options(*cmd, *model);
  cmd->add_option("--input", model->input, "Input shape H,W,C (instead of --size/--channels)");
  cmd->add_option("--checkpoint", *checkpoint, "A weights or checkpoint file: summarise the model stored in it")
      ->check(CLI::ExistingFile);
  return [=] {
    if (!checkpoint->empty()) {
      train::load_trained_model(*checkpoint).print_summary(std::cout);
      return 0;
    }
    std::cout << summary(model_graph(*model)) << std::flush;  // shapes and counts only: no weight is allocated
    return 0;
  };
}

}  // namespace tg::app
