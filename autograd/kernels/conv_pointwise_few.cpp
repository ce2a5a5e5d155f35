// A pointwise convolution with 1 to kPointwiseMaxOutputs output channels (a segmentation network's output layer):
// y [pixels, n] = x [pixels, c] w [c, n] with n = 1 or 2, where the GEMM kernels' 16-column panels would be mostly
// zeros. All three passes stream the pixels once, with the input channels in vector lanes:
//   forward:         y[p, j] = dot(x[p, :], w[:, j]): Float8 partial dots over the channels, then one fixed sum of
//                    the 8 lanes, then the channels past the last whole Float8;
//   input gradient:  dx[p, :] = sum over j of dy[p, j] w[:, j], in j order;
//   kernel gradient: dw[:, j] = sum over p of x[p, :] dy[p, j], per fixed group of pixels, the groups in order.
#include <algorithm>
#include <vector>

#include "autograd/kernels/conv_special.h"
#include "autograd/kernels/float8.h"
#include "autograd/parallel.h"

namespace tg::kernels {

namespace {
constexpr int64_t kPixelBlock = 256;  // pixels per parallel task of the forward and input-gradient passes
constexpr int64_t kW = kFloat8Lanes;

// The 8 lanes of v added in one fixed order: halves, then quarters, then the last pair.
inline float lane_sum(const Float8& v) {
  float s[kW];
  store8(s, v);
  return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

// wt [n, channels8]: the kernel transposed, each output's column zero-padded to whole Float8.
std::vector<float> transposed_kernel(const float* w, int64_t c, int64_t n, int64_t channels8) {
  std::vector<float> wt(static_cast<size_t>(n * channels8), 0.0f);
  for (int64_t i = 0; i < c; ++i)
    for (int64_t j = 0; j < n; ++j) wt[j * channels8 + i] = w[i * n + j];
  return wt;
}

struct Pass {
  const float* in;  // x (forward, kernel gradient) or dy (input gradient)
  const float* wt;  // the transposed kernel (forward, input gradient) or dy (kernel gradient)
  float* out;
  int64_t c, n, channels8, p0, p1;
  GemmEpilogue e;
};

template <int64_t kOut>
inline __attribute__((always_inline)) void forward_pixels(const Pass& a) {
  const int64_t whole = a.c / kW * kW;
  for (int64_t p = a.p0; p < a.p1; ++p) {
    const float* xp = a.in + p * a.c;
    Float8 acc[kOut] = {};
    for (int64_t i = 0; i < whole; i += kW) {
      Float8 v;
      load8(v, xp + i);
      for (int64_t j = 0; j < kOut; ++j) {
        Float8 wv;
        load8(wv, a.wt + j * a.channels8 + i);
        acc[j] += v * wv;
      }
    }
    for (int64_t j = 0; j < kOut; ++j) {
      float s = lane_sum(acc[j]);
      for (int64_t i = whole; i < a.c; ++i) s += xp[i] * a.wt[j * a.channels8 + i];
      float& out = a.out[p * kOut + j];
      if (a.e.accumulate) s = out + s;
      if (a.e.bias) s = s + a.e.bias[j];
      if (a.e.relu) s = s < 0.0f ? 0.0f : s;
      out = s;
    }
  }
}

template <int64_t kOut>
inline __attribute__((always_inline)) void input_grad_pixels(const Pass& a) {
  for (int64_t p = a.p0; p < a.p1; ++p) {
    float* dxp = a.out + p * a.c;
    for (int64_t i = 0; i < a.channels8; i += kW) {
      Float8 acc{}, wv;
      for (int64_t j = 0; j < kOut; ++j) load8(wv, a.wt + j * a.channels8 + i), acc += a.in[p * kOut + j] * wv;
      if (i + kW <= a.c) {
        store8(dxp + i, acc);
      } else {
        float s[kW];
        store8(s, acc);
        std::copy_n(s, a.c - i, dxp + i);
      }
    }
  }
}

// Sums [n, channels8] (+)= the pixels' products, in pixel order, kPixelBlock pixels at a time (their x stays in
// cache while each Float8 of channels passes over them). x is read through a zero-padded copy of each pixel when its
// channels are not whole Float8 (the last pixel's last vector would run past the end of x).
template <int64_t kOut>
inline __attribute__((always_inline)) void kernel_grad_pixels(const Pass& a) {
  float padded[kW];
  for (int64_t b0 = a.p0; b0 < a.p1; b0 += kPixelBlock)
    for (int64_t i = 0; i < a.channels8; i += kW) {
      Float8 acc[kOut];
      for (int64_t j = 0; j < kOut; ++j) load8(acc[j], a.out + j * a.channels8 + i);
      const bool whole = i + kW <= a.c;
      for (int64_t p = b0; p < std::min(a.p1, b0 + kPixelBlock); ++p) {
        const float* xp = a.in + p * a.c + i;
        if (!whole) {
          std::fill_n(padded, kW, 0.0f);
          std::copy_n(xp, a.c - i, padded);
          xp = padded;
        }
        Float8 v;
        load8(v, xp);
        for (int64_t j = 0; j < kOut; ++j) acc[j] += a.wt[p * kOut + j] * v;
      }
      for (int64_t j = 0; j < kOut; ++j) store8(a.out + j * a.channels8 + i, acc[j]);
    }
}

// Each pass for n = 1 .. kPointwiseMaxOutputs outputs, portable and AVX2 + FMA. (OpenMP stays in the callers: a
// parallel region is outlined before inlining, into a function without the target attribute.)
enum class Which { forward, input_grad, kernel_grad };
template <Which kPass, int64_t kOut>
inline __attribute__((always_inline)) void run_pass(const Pass& a) {
  if constexpr (kPass == Which::forward) forward_pixels<kOut>(a);
  else if constexpr (kPass == Which::input_grad) input_grad_pixels<kOut>(a);
  else kernel_grad_pixels<kOut>(a);
}
template <Which kPass, int64_t kOut>
TG_AVX2_FMA void pass_avx2(const Pass& a) { run_pass<kPass, kOut>(a); }
template <Which kPass, int64_t kOut>
void pass_generic(const Pass& a) { run_pass<kPass, kOut>(a); }

using PassFn = void (*)(const Pass&);
static_assert(kPointwiseMaxOutputs == 4, "pass_for lists one build per output count");
template <Which kPass>
PassFn pass_for(Isa isa, int64_t n) {
  static constexpr PassFn avx2[] = {pass_avx2<kPass, 1>, pass_avx2<kPass, 2>, pass_avx2<kPass, 3>, pass_avx2<kPass, 4>};
  static constexpr PassFn generic[] = {pass_generic<kPass, 1>, pass_generic<kPass, 2>, pass_generic<kPass, 3>,
                                       pass_generic<kPass, 4>};
  return (avx2_kernels(isa) ? avx2 : generic)[n - 1];
}

// Blocks of kPixelBlock pixels in parallel; each output value is computed by one task, so any split is the same.
template <Which kPass>
void pixel_blocks(Isa isa, Pass a, int64_t pixels) {
  const PassFn pass = pass_for<kPass>(isa, a.n);
  const int64_t blocks = (pixels + kPixelBlock - 1) / kPixelBlock;
#pragma omp parallel for schedule(static) if (pixels * a.c > kParallelThreshold)
  for (int64_t b = 0; b < blocks; ++b) {
    Pass block = a;
    block.p0 = b * kPixelBlock, block.p1 = std::min(pixels, block.p0 + kPixelBlock);
    pass(block);
  }
}
}  // namespace

bool pointwise_few_outputs_applies(const ConvGeometry& g) {
  return g.pointwise() && g.out_c >= 1 && g.out_c <= kPointwiseMaxOutputs;
}

void pointwise_few_forward(Isa isa, const float* x, const float* w, const ConvGeometry& g, float* y,
                           const GemmEpilogue& epilogue) {
  const int64_t c = g.in_c, n = g.out_c, channels8 = (c + kW - 1) / kW * kW;
  const std::vector<float> wt = transposed_kernel(w, c, n, channels8);
  pixel_blocks<Which::forward>(isa, {x, wt.data(), y, c, n, channels8, 0, 0, epilogue}, g.lines() * g.out_w);
}

void pointwise_few_input_grad(Isa isa, const float* dy, const float* w, const ConvGeometry& g, float* dx) {
  const int64_t c = g.in_c, n = g.out_c, channels8 = (c + kW - 1) / kW * kW;
  const std::vector<float> wt = transposed_kernel(w, c, n, channels8);
  pixel_blocks<Which::input_grad>(isa, {dy, wt.data(), dx, c, n, channels8, 0, 0, {}}, g.lines() * g.out_w);
}

void pointwise_few_kernel_grad(Isa isa, const float* x, const float* dy, const ConvGeometry& g, float* dw,
                               const GemmEpilogue& epilogue) {
  const int64_t c = g.in_c, n = g.out_c, channels8 = (c + kW - 1) / kW * kW, lines = g.lines();
  const int64_t groups = kernel_grad_groups(g, c * n), size = n * channels8;
  const PassFn pass = pass_for<Which::kernel_grad>(isa, n);
  std::vector<float> partial(static_cast<size_t>(groups * size), 0.0f);
#pragma omp parallel for schedule(dynamic) if (groups > 1)
  for (int64_t group = 0; group < groups; ++group)
    pass({x, dy, partial.data() + group * size, c, n, channels8, lines * group / groups * g.out_w,
          lines * (group + 1) / groups * g.out_w, {}});
  // The group sums are [n, channels8]: added in group order, then transposed into dw [c, n].
  std::vector<float> total(static_cast<size_t>(size));
  add_group_sums(partial.data(), groups, 1, size, size, total.data(), false);
  for (int64_t i = 0; i < c; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const float v = total[j * channels8 + i];
      dw[i * n + j] = epilogue.accumulate ? dw[i * n + j] + v : v;
    }
}

}  // namespace tg::kernels
