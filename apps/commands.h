// The tapegrad subcommands. Each registers its flags on the CLI11 app and returns the function that runs it
// after parsing; the function returns the process exit code (0 success, 1 runtime failure, 130/143 after a
// clean interrupt with a checkpoint written). Bad usage is CLI11's business and exits with 2.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace tg::app {

using Command = std::function<int()>;

Command add_train_command(CLI::App& app);
Command add_predict_command(CLI::App& app);
Command add_evaluate_command(CLI::App& app);
Command add_summary_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_synth_command(CLI::App& app);
Command add_export_command(CLI::App& app);  // apps/cmd_export.cpp: ONNX export
Command add_import_keras_command(CLI::App& app);  // interop/keras.h
Command add_export_keras_command(CLI::App& app);

// What `train --resume RUN_DIR` reads from RUN_DIR/config.json before it builds anything: the saved settings, checked
// as the flags are. Throws naming `config_path`. For fuzz/run_config_fuzz.cpp; the resume path runs the same checks.
void check_saved_train_settings(const nlohmann::json& saved, const std::string& config_path);

// Runs the parsed command: maps exceptions to one clear line on stderr and exit code 1.
int run_command(const Command& command);

}  // namespace tg::app
