// An 8-float vector in GCC's vector extensions, for the special convolution kernels (conv_special.h): one plain
// kernel body, written once, is compiled twice, for the portable baseline (SSE2 on x86-64, two halves per operation)
// and for AVX2 + FMA (TG_AVX2_FMA on the function that instantiates it; the multiply-adds then contract to FMA).
// Values pass by reference: a vector returned by value would change the calling convention between the two builds
// (GCC's -Wpsabi warning), and the helpers are inlined anyway.
#pragma once
#include <cstdint>

#include "autograd/kernels/isa.h"
#include "autograd/kernels/packed_gemm.h"

namespace tg::kernels {

using Float8 = float __attribute__((vector_size(32)));
inline constexpr int64_t kFloat8Lanes = 8;

// Loads and stores at any float's alignment. (memcpy would do the same but, as a char access, may alias anything,
// so GCC would reload every other value after each store.) A scalar times a Float8 broadcasts the scalar.
using UnalignedFloat8 = float __attribute__((vector_size(32), aligned(4)));
inline void load8(Float8& v, const float* p) { v = *reinterpret_cast<const UnalignedFloat8*>(p); }
inline void store8(float* p, const Float8& v) { *reinterpret_cast<UnalignedFloat8*>(p) = v; }

// Stores a tile of sums [rows, cols] (row stride ld_tile) into c (row stride ldc) through the epilogue: old value +
// sum when accumulating, then + bias, then ReLU (v < 0 ? 0 : v, so NaN and -0 pass through as in the relu op), the
// order of the GEMM kernels' epilogue, so a special kernel's output equals the separate passes bit for bit.
inline void store_tile(const float* tile, int64_t ld_tile, int64_t rows, int64_t cols, float* c, int64_t ldc,
                       const GemmEpilogue& e) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = tile + r * ld_tile;
    float* out = c + r * ldc;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) {
      float v = e.accumulate ? out[j] + s[j] : s[j];
      if (e.bias) v = v + e.bias[j];
      if (e.relu) v = v < 0.0f ? 0.0f : v;
      out[j] = v;
    }
  }
}

// AVX2 + FMA on the function that instantiates a kernel body; GCC is told to contract a * b + c into FMA there (the
// build's ISO C++ mode turns contraction off by default). Callers check the CPU first (avx2_kernels).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TG_AVX2_FMA __attribute__((target("avx2,fma"), optimize("fp-contract=fast")))
#elif defined(__x86_64__)
#define TG_AVX2_FMA __attribute__((target("avx2,fma")))
#else
#define TG_AVX2_FMA
#endif

// Whether a special kernel runs its AVX2 + FMA build for this ISA (the AVX-512 CPUs have AVX2 and FMA too).
inline bool avx2_kernels(Isa isa) { return isa != Isa::generic; }

}  // namespace tg::kernels
