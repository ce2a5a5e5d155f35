// The instruction sets the float32 GEMM micro-kernels are written for, detected at run time, so one portable binary
// (built without -march=native) runs its fastest kernel on every x86-64 CPU and never an instruction the CPU lacks.
#pragma once
#include <string>

namespace tg::kernels {

enum class Isa { generic, avx2, avx512 };

const char* isa_name(Isa isa);  // "generic", "avx2", "avx512": the values TAPEGRAD_ISA accepts
bool cpu_supports(Isa isa);     // what the CPU (and the OS, for the wide registers) reports

// The ISA the kernels use: the best one the CPU supports, or the one the environment variable TAPEGRAD_ISA names
// (tests force the portable path this way). Read once; an unknown name, or an ISA this CPU lacks, is an error
// (std::runtime_error) rather than a silent fallback or a SIGILL.
Isa active_isa();

// Parses a TAPEGRAD_ISA value; throws std::runtime_error naming the variable and the accepted values.
Isa parse_isa(const std::string& name);

}  // namespace tg::kernels
