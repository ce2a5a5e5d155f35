#include "autograd/kernels/sgemm_ukernel.h"

namespace tg::kernels {

namespace {
// kc and mc: a B micro-panel of kc x nr floats fits in a 32 KB (48 KB on AVX-512 parts) L1 data cache beside the
// A micro-panel; an A block of mc x kc floats (about 120 KB) stays in L2.
constexpr SgemmUkernel kGeneric{"f32_gemm_4x8__generic", Isa::generic, 4, 8, 256, 128, f32_gemm_4x8__generic,
                               f32_igemm_4x8__generic, f32_outer_4x8__generic};
constexpr SgemmUkernel kAvx2{"f32_gemm_6x16__avx2_fma", Isa::avx2, 6, 16, 256, 120, f32_gemm_6x16__avx2_fma,
                            f32_igemm_6x16__avx2_fma, f32_outer_6x16__avx2_fma};
constexpr SgemmUkernel kAvx512{"f32_gemm_14x32__avx512f", Isa::avx512, 14, 32, 192, 168, f32_gemm_14x32__avx512f,
                              f32_igemm_14x32__avx512f, f32_outer_14x32__avx512f};
constexpr SgemmUkernel kAvx512Narrow{"f32_gemm_16x16__avx512f", Isa::avx512, 16, 16, 256, 160, f32_gemm_16x16__avx512f,
                                    f32_igemm_16x16__avx512f, f32_outer_16x16__avx512f};
}  // namespace

const SgemmUkernel& sgemm_ukernel(Isa isa) {
  switch (isa) {
    case Isa::avx2: return kAvx2;
    case Isa::avx512: return kAvx512;
    case Isa::generic: break;
  }
  return kGeneric;
}

const SgemmUkernel& sgemm_ukernel_for_columns(Isa isa, int64_t n) {
  if (isa == Isa::avx512 && n <= kAvx512Narrow.nr) return kAvx512Narrow;
  return sgemm_ukernel(isa);
}

const SgemmUkernel& active_sgemm_ukernel_for_columns(int64_t n) { return sgemm_ukernel_for_columns(active_isa(), n); }

std::vector<const SgemmUkernel*> sgemm_ukernels(Isa isa) {
  if (isa == Isa::avx512) return {&kAvx512, &kAvx512Narrow};
  return {&sgemm_ukernel(isa)};
}

const SgemmUkernel& active_sgemm_ukernel() {
  static const SgemmUkernel& kernel = sgemm_ukernel(active_isa());
  return kernel;
}

}  // namespace tg::kernels
