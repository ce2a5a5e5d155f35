// tapegrad import-keras: a Keras file (model.save .h5, .keras, or weights only with the architecture given) as a
// tapegrad weights file that predict, evaluate, summary and train --init-from read.
#include <iostream>

#include "apps/commands.h"
#include "apps/model_options.h"
#include "interop/keras.h"
#include "train/checkpoint.h"

namespace tg::app {

namespace {
struct ImportKerasOptions {
  ModelOptions model;
  std::string file, out, arch;
};
}  // namespace

Command add_import_keras_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("import-keras",
                                 "Convert a Keras model or weights file (.h5, .keras, .weights.h5) to a tapegrad "
                                 "weights file (.safetensors)");
  auto o = std::make_shared<ImportKerasOptions>();
  cmd->add_option("file", o->file, "Keras file: model.save's .h5 or .keras (architecture and weights), or "
                                   "save_weights' .h5 / .weights.h5 (weights only: give --arch or the model flags)")
      ->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", o->out, "The tapegrad weights file to write (.safetensors)")->required();
  cmd->add_option("--arch", o->arch, "For a weights-only file: a tapegrad weights or checkpoint file whose "
                                     "architecture the weights belong to")
      ->check(CLI::ExistingFile);
  add_model_options(*cmd, o->model);
  cmd->add_option("--input", o->model.input, "Input shape H,W,C: fills the sizes a Keras model leaves open (None); "
                                             "with the model flags, the zoo model's input");
  return [o, cmd] {
    bool zoo = false;
    for (const char* flag : {"--model", "--filters", "--depth", "--size", "--channels", "--classes", "--dropout",
                             "--batch-norm"})
      zoo = zoo || cmd->count(flag) > 0;
    if (zoo && !o->arch.empty())
      throw CLI::ValidationError("--arch", "names the architecture already; leave out the model flags (--model, "
                                           "--filters, ...)");
    if (zoo || !o->arch.empty()) {
      Model model = o->arch.empty() ? build_model(o->model) : train::load_trained_model(o->arch);
      const std::string how = interop::load_keras_weights(model, o->file);
      model.save_weights(o->out);
      std::cout << o->file << " (" << how << ") -> " << o->out << ": " << model.layers().size() << " layers, "
                << model.count_params() << " parameters\n";
      return 0;
    }
    interop::KerasImportOptions options;
    if (!o->model.input.empty()) options.input_shape = o->model.input_shape();
    interop::KerasImport imported = interop::import_keras_model(o->file, options);
    for (const std::string& note : imported.notes) std::cout << "note: " << note << "\n";
    imported.model.save_weights(o->out);
    std::cout << o->file << " (" << interop::format_name(imported.format)
              << (imported.keras_version.empty() ? "" : ", Keras " + imported.keras_version) << ") -> " << o->out
              << ": model '" << imported.model.name() << "', " << imported.model.layers().size() << " layers, "
              << imported.model.count_params() << " parameters\n";
    return 0;
  };
}

}  // namespace tg::app
