// The tapegrad command line as a function, so that apps/main.cpp stays a one-liner and the CLI11 code compiles once,
// with the rest of the app, rather than again for the executable.
#pragma once

namespace tg::app {

// Parses argv, runs the chosen subcommand and returns the process exit code (see commands.h).
int cli_main(int argc, char** argv);

}  // namespace tg::app
