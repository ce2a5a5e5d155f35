// How float32 convolutions compute: in float32 (the default), or with their operands rounded to bfloat16 on Intel
// AMX and summed in float32 (autograd/kernels/amx_conv.h says which passes). Tensors, weights, gradients and the
// optimizer stay float32 either way.
#pragma once
#include <string>

namespace tg {

enum class ConvPrecision { float32, bf16 };

// The environment variable TAPEGRAD_PRECISION=float32|bf16 sets the starting value (float32 when unset).
ConvPrecision conv_precision();
// bf16 on a CPU (or Linux kernel) without AMX-BF16 throws std::runtime_error saying what is missing rather than
// falling back silently: a user who asked for bf16 learns that this machine cannot do it.
void set_conv_precision(ConvPrecision precision);
// Parses "float32" or "bf16"; throws std::runtime_error naming `what` (a flag or variable) and the accepted values.
ConvPrecision parse_conv_precision(const std::string& value, const std::string& what = "precision");
const char* conv_precision_name(ConvPrecision precision);

// Whether this CPU has AMX-BF16 and AVX512-BF16 and Linux granted the process the AMX tile state; when it has not,
// `why` (if given) says what is missing.
bool amx_bf16_available(std::string* why = nullptr);

// Sets the precision for a scope and puts the previous one back.
class ConvPrecisionScope {
 public:
  explicit ConvPrecisionScope(ConvPrecision precision) : saved_(conv_precision()) { set_conv_precision(precision); }
  ~ConvPrecisionScope() { set_conv_precision(saved_); }
  ConvPrecisionScope(const ConvPrecisionScope&) = delete;
  ConvPrecisionScope& operator=(const ConvPrecisionScope&) = delete;

 private:
  ConvPrecision saved_;
};

}  // namespace tg
