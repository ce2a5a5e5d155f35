// --precision float32|bf16, shared by train, bench, predict and evaluate (autograd/precision.h).
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace tg::app {

// Adds --precision to cmd, stored in `value` ("float32" unless given).
CLI::Option* add_precision_option(CLI::App& cmd, std::string& value);

// Sets the convolutions' precision; bf16 on a machine without AMX-BF16 is an error naming the flag and what the
// machine lacks (std::runtime_error), never a silent float32 run.
void apply_precision(const std::string& value);

}  // namespace tg::app
