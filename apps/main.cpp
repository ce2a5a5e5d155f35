// The tapegrad command line.
#include <CLI/CLI.hpp>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"tapegrad: train Keras-style U-Nets on the CPU"};
  app.set_version_flag("--version", std::string("tapegrad ") + TAPEGRAD_VERSION);
  app.require_subcommand(0);
  CLI11_PARSE(app, argc, argv);
  if (argc == 1) std::cout << app.help();
  return 0;
}
