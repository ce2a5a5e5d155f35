// tapegrad export-keras: a tapegrad weights file or checkpoint as a Keras 3 .weights.h5, which Keras's
// model.load_weights reads into the same architecture built in Keras.
#include <iostream>

#include "apps/commands.h"
#include "interop/keras.h"
#include "train/checkpoint.h"

namespace tg::app {

Command add_export_keras_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("export-keras", "Write a tapegrad model's weights as a Keras 3 .weights.h5");
  auto checkpoint = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  cmd->add_option("checkpoint", *checkpoint, "A tapegrad weights or checkpoint file (.safetensors)")
      ->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", *out, "The Keras weights file to write; its name must end in .weights.h5")->required();
  return [checkpoint, out] {
    const Model model = train::load_trained_model(*checkpoint);
    interop::export_keras_weights(model, *out);
    std::cout << *checkpoint << " -> " << *out << " (Keras 3 .weights.h5): " << model.layers().size() << " layers, "
              << model.count_params() << " parameters\n";
    return 0;
  };
}

}  // namespace tg::app
