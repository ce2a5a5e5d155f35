// The tapegrad command line: train, predict, evaluate, summary, bench, synth.
#include "apps/cli_main.h"

#include <map>
#include <string>

#include "apps/commands.h"

namespace tg::app {

int cli_main(int argc, char** argv) {
  CLI::App app{"tapegrad: build, train and checkpoint Keras-style U-Nets on the CPU"};
  app.set_version_flag("--version", std::string("tapegrad ") + TAPEGRAD_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  std::map<CLI::App*, Command> commands;
  auto add = [&](Command (*adder)(CLI::App&)) {
    const size_t before = app.get_subcommands({}).size();
    Command command = adder(app);
    commands[app.get_subcommands({}).at(before)] = std::move(command);
  };
  add(add_train_command);
  add(add_predict_command);
  add(add_evaluate_command);
  add(add_summary_command);
  add(add_bench_command);
  add(add_synth_command);
  add(add_export_command);
  add(add_import_keras_command);
  add(add_export_keras_command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints CLI11's message
    return 2;
  }
  for (auto& [sub, command] : commands)
    if (sub->parsed()) return run_command(command);
  return 2;
}

}  // namespace tg::app
