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
}  // namespace

const SgemmUkernel& sgemm_ukernel(Isa isa) {
  switch (isa) {
    case Isa::avx2: return kAvx2;
    case Isa::avx512: return kAvx512;
    case Isa::generic: break;
  }
  return kGeneric;
}

const SgemmUkernel& active_sgemm_ukernel() {
  static const SgemmUkernel& kernel = sgemm_ukernel(active_isa());
  return kernel;
}

}  // namespace tg::kernels
