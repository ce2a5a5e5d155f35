#include "apps/precision_option.h"

#include <stdexcept>

#include "autograd/precision.h"

namespace tg::app {

CLI::Option* add_precision_option(CLI::App& cmd, std::string& value) {
  return cmd
      .add_option("--precision", value,
                  "Convolution arithmetic: float32, or bf16 (operands rounded to bfloat16 on Intel AMX, sums and "
                  "weights float32; Sapphire Rapids or later)")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "bf16"}));
}

void apply_precision(const std::string& value) {
  try {
    set_conv_precision(parse_conv_precision(value, "--precision"));
  } catch (const std::runtime_error& e) {  // set_conv_precision says what the machine lacks; name the flag too
    throw std::runtime_error("--precision " + value + ": " + e.what() + "; use --precision float32 on this machine");
  }
}

}  // namespace tg::app
