// float32 GEMM micro-kernels: each computes one register tile of C = A B from packed panels, names say what they
// compute, their tile (rows x columns) and their ISA, as in XNNPACK (f32_gemm_6x16__avx2_fma). One small file per
// ISA under sgemm/, compiled with target attributes so every x86-64 build holds all of them; active_isa() picks.
//
// Packed panels: A as mr-row panels, kc x mr floats, element (row r, k) at [k * mr + r]; B as nr-column panels,
// element (k, column j) at [k * nr + j]. Both are zero-padded to full panels, so a kernel always runs its full tile
// and stores only the `rows` x `cols` corner that exists.
//
// Rounding: each kernel sums its kc products per element in k order, in lanes that never mix, so an element's value
// depends only on kc and the ISA, never on where the tile lies or on which thread runs it. Different ISAs round
// differently (FMA vs separate multiply and add, different kc), so results, and training resumed on a machine of
// another ISA, agree to float32 rounding, not bit for bit.
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/kernels/isa.h"

namespace tg::kernels {

// What a kernel does with its tile's sum s before storing it into C.
struct TileEpilogue {
  bool accumulate = false;      // c = c + s (else c = s; C is then never read)
  const float* bias = nullptr;  // then + bias[j] for the tile's column j (bias already offset to the tile)
  bool relu = false;            // then v < 0 ? 0 : v, as the relu op (NaN and -0 pass through)
};

using SgemmUkernelFn = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t rows,
                                int64_t cols, const TileEpilogue& epilogue);

// The indirect form (XNNPACK's igemm), for convolutions without im2col: A is not packed but read where it lies,
// row r of tap t being the `channels` floats at a[t * mr + r] (an input pixel, or a zero row for padding); B is the
// packed kernel panel, taps * channels x nr. k runs over taps, then channels, in order.
using SgemmIndirectUkernelFn = void (*)(int64_t taps, int64_t channels, const float* const* a, const float* b,
                                        float* c, int64_t ldc, int64_t rows, int64_t cols, const TileEpilogue& epilogue);

// The outer-product form, for kernel gradients: C[r, j] (+)= sum over p < pixels of a[p][offset + r] * b[p * nr + j].
// a[p] points at the input pixel (or a zero row) of one tap, whose channels offset .. offset + mr are the tile's
// rows; b is a packed panel of dy. It reads all mr values even when rows < mr: the caller makes them readable.
using SgemmOuterUkernelFn = void (*)(int64_t pixels, const float* const* a, int64_t offset, const float* b, float* c,
                                     int64_t ldc, int64_t rows, int64_t cols, const TileEpilogue& epilogue);

struct SgemmUkernel {
  const char* name;
  Isa isa;
  int64_t mr, nr;  // register tile
  int64_t kc;      // most k per packed block: a B micro-panel (kc x nr) stays in L1
  int64_t mc;      // rows per packed A block (a multiple of mr): the block stays in L2
  SgemmUkernelFn run;
  SgemmIndirectUkernelFn run_indirect;
  SgemmOuterUkernelFn run_outer;
};

void f32_gemm_4x8__generic(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t rows,
                           int64_t cols, const TileEpilogue& epilogue);
void f32_gemm_6x16__avx2_fma(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t rows,
                             int64_t cols, const TileEpilogue& epilogue);
void f32_gemm_14x32__avx512f(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t rows,
                             int64_t cols, const TileEpilogue& epilogue);
void f32_gemm_16x16__avx512f(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t rows,
                             int64_t cols, const TileEpilogue& epilogue);

void f32_igemm_4x8__generic(int64_t taps, int64_t channels, const float* const* a, const float* b, float* c,
                            int64_t ldc, int64_t rows, int64_t cols, const TileEpilogue& epilogue);
void f32_igemm_6x16__avx2_fma(int64_t taps, int64_t channels, const float* const* a, const float* b, float* c,
                              int64_t ldc, int64_t rows, int64_t cols, const TileEpilogue& epilogue);
void f32_igemm_14x32__avx512f(int64_t taps, int64_t channels, const float* const* a, const float* b, float* c,
                              int64_t ldc, int64_t rows, int64_t cols, const TileEpilogue& epilogue);
void f32_igemm_16x16__avx512f(int64_t taps, int64_t channels, const float* const* a, const float* b, float* c,
                              int64_t ldc, int64_t rows, int64_t cols, const TileEpilogue& epilogue);

void f32_outer_4x8__generic(int64_t pixels, const float* const* a, int64_t offset, const float* b, float* c,
                            int64_t ldc, int64_t rows, int64_t cols, const TileEpilogue& epilogue);
void f32_outer_6x16__avx2_fma(int64_t pixels, const float* const* a, int64_t offset, const float* b, float* c,
                              int64_t ldc, int64_t rows, int64_t cols, const TileEpilogue& epilogue);
void f32_outer_14x32__avx512f(int64_t pixels, const float* const* a, int64_t offset, const float* b, float* c,
                              int64_t ldc, int64_t rows, int64_t cols, const TileEpilogue& epilogue);
void f32_outer_16x16__avx512f(int64_t pixels, const float* const* a, int64_t offset, const float* b, float* c,
                              int64_t ldc, int64_t rows, int64_t cols, const TileEpilogue& epilogue);

const SgemmUkernel& sgemm_ukernel(Isa isa);  // the kernel written for isa (callers check cpu_supports first)
const SgemmUkernel& active_sgemm_ukernel();  // sgemm_ukernel(active_isa())

// The kernel for a product of n columns (a convolution's output channels, or a kernel gradient's): isa's own, or a
// narrower tile of the same ISA where n fits in it (16x16 on AVX-512 for n <= 16, which the 14x32 tile would pad
// to 32 columns of zeros). A function of (isa, n) only, so a layer's summation order never depends on anything else.
const SgemmUkernel& sgemm_ukernel_for_columns(Isa isa, int64_t n);
const SgemmUkernel& active_sgemm_ukernel_for_columns(int64_t n);  // for active_isa()

// Every kernel written for isa (its own and the narrow ones), for the tests.
std::vector<const SgemmUkernel*> sgemm_ukernels(Isa isa);

// Stores a tile's sums, held in a row-major rows_max x cols_max scratch array, through the epilogue: the partial
// tiles at the right and bottom edges of C, element for element as the vector path does.
inline void store_tile_scalar(const float* sums, int64_t cols_max, float* c, int64_t ldc, int64_t rows, int64_t cols,
                              const TileEpilogue& e) {
  for (int64_t r = 0; r < rows; ++r) {
    float* cr = c + r * ldc;
    const float* sr = sums + r * cols_max;
    for (int64_t j = 0; j < cols; ++j) {
      float v = sr[j];
      if (e.accumulate) v = cr[j] + v;
      if (e.bias) v = v + e.bias[j];
      if (e.relu) v = v < 0.0f ? 0.0f : v;
      cr[j] = v;
    }
  }
}

}  // namespace tg::kernels
