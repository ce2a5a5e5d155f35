#include "autograd/kernels/isa.h"

#include <cstdlib>
#include <stdexcept>

namespace tg::kernels {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::generic: return "generic";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

bool cpu_supports(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  // __builtin_cpu_supports also checks that the OS saves the YMM/ZMM state (XGETBV), not only CPUID.
  switch (isa) {
    case Isa::generic: return true;
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512: return __builtin_cpu_supports("avx512f");
  }
  return false;
#else
  return isa == Isa::generic;
#endif
}

Isa parse_isa(const std::string& name) {
  for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512})
    if (name == isa_name(isa)) return isa;
  throw std::runtime_error("TAPEGRAD_ISA='" + name + "' is not one of generic, avx2, avx512 (unset it to let "
                           "tapegrad pick the best the CPU supports)");
}

namespace {
Isa choose_isa() {
  if (const char* forced = std::getenv("TAPEGRAD_ISA"); forced && *forced) {
    const Isa isa = parse_isa(forced);
    if (!cpu_supports(isa))
      throw std::runtime_error(std::string("TAPEGRAD_ISA=") + forced + ": this CPU does not support " + forced +
                               " (it would stop with an illegal instruction); unset TAPEGRAD_ISA or choose generic");
    return isa;
  }
  for (Isa isa : {Isa::avx512, Isa::avx2})
    if (cpu_supports(isa)) return isa;
  return Isa::generic;
}
}  // namespace

Isa active_isa() {
  static const Isa isa = choose_isa();
  return isa;
}

}  // namespace tg::kernels
