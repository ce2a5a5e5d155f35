// The tapegrad subcommands. Each registers its flags on the CLI11 app and returns the function that runs it
// after parsing; the function returns the process exit code (0 success, 1 runtime failure, 130/143 after a
// clean interrupt with a checkpoint written). Bad usage is CLI11's business and exits with 2.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace tg::app {

using Command = std::function<int()>;

Command add_train_command(CLI::App& app);
Command add_predict_command(CLI::App& app);
Command add_evaluate_command(CLI::App& app);
Command add_summary_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_synth_command(CLI::App& app);

// Runs the parsed command: maps exceptions to one clear line on stderr and exit code 1.
int run_command(const Command& command);

}  // namespace tg::app
