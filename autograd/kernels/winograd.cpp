#include "autograd/kernels/winograd.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/parallel.h"
#include "autograd/tensor.h"

namespace tg::kernels {

namespace {
constexpr int64_t kPoints = 16;  // a 4x4 input window per 2x2 output tile: 16 products per channel pair
// The automatic policy takes layers with at least this many input and output channels; below it the transforms
// cost more than they save. Measured one pass at a time on one core (Zen 3): the forward gains from 16 -> 16
// channels at 256x256 on (1.25x; 1 -> 16 does not), the kernel gradient from 64 -> 64 on (1.5x; 32 -> 32 at
// 128x128 is 0.65x: its transforms, made for every tile, weigh more beside a product of few channels).
constexpr int64_t kAutoMinChannelsForward = 16;
constexpr int64_t kAutoMinChannelsKernelGrad = 64;
// The kernel gradient also needs tiles enough to pay for transforming its 16 Cin Cout sums back into dw: with 256
// tiles (batch 1 at 32x32) it gains 1.2-1.4x on 64-1024 channels; with 128 (batch 2 at 16x16) it is 0.85x, with 64
// (the seed U-Net's 16x16 bottom at batch 1) 0.45x of the direct gradient.
constexpr int64_t kAutoMinTilesKernelGrad = 256;
// A block of tiles is cut so that one point's A operand ([tiles, Cin]) stays in L2 while the kernel's panels pass
// over it (at most this many floats)...
constexpr int64_t kBlockFloats = int64_t(64) * 1024;
// ...and holds at least this many tiles, more when the transformed kernel (16 Cin Cout floats, read once per block)
// outweighs the block's own transformed tiles (16 (Cin + Cout) floats per tile).
constexpr int64_t kMinBlockTiles = 32;
// Fewer tile blocks than this (deep layers of a small batch) and the output channels are split across tasks too.
constexpr int64_t kMinTasks = 8;
// The kernel gradient transforms this many floats of tiles (input and output gradient) at a time, then multiplies.
constexpr int64_t kChunkFloats = int64_t(2) << 20;
// Its products are split into tasks of this many mr-row panels of input channels (times one panel of outputs).
constexpr int64_t kPanelsPerRowBlock = 8;

// The transforms only add and subtract (no multiply to contract into an FMA), so the AVX-512 and AVX2 clones, picked
// at run time where the CPU has them, compute the same values as the portable one, 16 or 8 channels at a time. (The
// AVX-512 clone took a U-Net filters-16 training step from 234-245 to 204-209 ms, fastest of 8 steps, on 2 Sapphire
// Rapids cores: the transforms are about an eighth of the step.)
// Not under Clang 14 (the fuzzing build, scripts/fuzz.sh), which cannot clone function templates.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TG_WINOGRAD_TARGETS __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TG_WINOGRAD_TARGETS
#endif

WinogradPolicy policy_from_environment() {
  const char* value = std::getenv("TAPEGRAD_WINOGRAD");
  return value ? parse_winograd_policy(value) : WinogradPolicy::automatic;
}

std::atomic<WinogradPolicy>& policy_slot() {
  static std::atomic<WinogradPolicy> policy{policy_from_environment()};
  return policy;
}

// U = G g G^T for the output channels [j0, j0 + live) of one input channel: G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2;
// 0 0 1]. Tap t of output channel j is src[t * tap_stride + j]; point 4a + b goes to dst[(4a + b) * point_floats + j].
TG_WINOGRAD_TARGETS void transform_kernel_row(const float* src, int64_t tap_stride, int64_t live, float* dst,
                                              int64_t point_floats) {
#pragma omp simd
  for (int64_t j = 0; j < live; ++j) {
    float g[9];
    for (int t = 0; t < 9; ++t) g[t] = src[t * tap_stride + j];
    float q[4][3];  // G g: rows of the kernel combined
    for (int c = 0; c < 3; ++c) {
      q[0][c] = g[c];
      q[1][c] = (g[c] + g[3 + c] + g[6 + c]) * 0.5f;
      q[2][c] = (g[c] - g[3 + c] + g[6 + c]) * 0.5f;
      q[3][c] = g[6 + c];
    }
    for (int a = 0; a < 4; ++a) {  // (G g) G^T: columns combined
      dst[(4 * a + 0) * point_floats + j] = q[a][0];
      dst[(4 * a + 1) * point_floats + j] = (q[a][0] + q[a][1] + q[a][2]) * 0.5f;
      dst[(4 * a + 2) * point_floats + j] = (q[a][0] - q[a][1] + q[a][2]) * 0.5f;
      dst[(4 * a + 3) * point_floats + j] = q[a][2];
    }
  }
}

// How the kernel handed to the forward pass is stored: as it is used (HWIO [3, 3, cin, cout]), or as the kernel of
// the convolution whose input gradient this pass is ([3, 3, cout, cin], used rotated by 180 degrees with its channel
// axes swapped; conv_input_grad at stride 1), which the transform reads in place instead of a rotated copy.
enum class KernelSource { as_used, of_input_grad };

// The transformed kernel, point 4a + b of every channel pair packed as the B operand of that point's GEMM:
// ceil(Cout / nr) panels of Cin x nr, point_floats apart.
Tensor transform_weights(const SgemmUkernel& uk, const float* w, int64_t cin, int64_t cout, int64_t point_floats,
                         KernelSource source) {
  const int64_t nr = uk.nr, panels = (cout + nr - 1) / nr;
  Tensor packed = Tensor::empty({kPoints * point_floats});
  float* dst = packed.data<float>();
  auto pad_panel = [&](float* base, int64_t live) {  // the last panel's padding columns
    for (int64_t j = live; j < nr; ++j)
      for (int64_t point = 0; point < kPoints; ++point) base[point * point_floats + j] = 0.0f;
  };
  if (source == KernelSource::as_used) {
#pragma omp parallel for schedule(static) if (9 * cin * cout > kParallelThreshold)
    for (int64_t ci = 0; ci < cin; ++ci)
      for (int64_t p = 0; p < panels; ++p) {
        const int64_t j0 = p * nr, live = std::min(nr, cout - j0);
        float* base = dst + p * cin * nr + ci * nr;
        transform_kernel_row(w + ci * cout + j0, cin * cout, live, base, point_floats);
        pad_panel(base, live);
      }
    return packed;
  }
  // Tap t of channel pair (ci, j) is w[8 - t][j][ci]: a panel's taps are gathered for a block of input channels at
  // a time (whole cache lines of w; one channel at a time would read 144 lines 4 KB apart for each), then
  // transformed as above.
  constexpr int64_t kGatherChannels = 16;
#pragma omp parallel for schedule(static) if (9 * cin * cout > kParallelThreshold)
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t j0 = p * nr, live = std::min(nr, cout - j0);
    float* taps = thread_pack_buffer(0, kGatherChannels * 9 * nr);  // [channel in block][tap][j]
    for (int64_t c0 = 0; c0 < cin; c0 += kGatherChannels) {
      const int64_t channels = std::min(kGatherChannels, cin - c0);
      for (int64_t t = 0; t < 9; ++t)
        for (int64_t j = 0; j < live; ++j) {
          const float* src = w + ((8 - t) * cout + j0 + j) * cin + c0;
          for (int64_t c = 0; c < channels; ++c) taps[(c * 9 + t) * nr + j] = src[c];
        }
      for (int64_t c = 0; c < channels; ++c) {
        float* base = dst + p * cin * nr + (c0 + c) * nr;
        transform_kernel_row(taps + c * 9 * nr, nr, live, base, point_floats);
        pad_panel(base, live);
      }
    }
  }
  return packed;
}

// V = B^T d B for one tile, every channel: B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. d[4i + j] is the input
// pixel (row i, column j) of the window, or a zero row; point 4a + b goes to v[(4a + b) * point_stride + c].
TG_WINOGRAD_TARGETS void transform_input_tile(const float* const* d, int64_t channels, float* v, int64_t point_stride) {
#pragma omp simd
  for (int64_t c = 0; c < channels; ++c) {
    float t[4][4];  // B^T d: rows of the window combined
    for (int j = 0; j < 4; ++j) {
      const float d0 = d[j][c], d1 = d[4 + j][c], d2 = d[8 + j][c], d3 = d[12 + j][c];
      t[0][j] = d0 - d2, t[1][j] = d1 + d2, t[2][j] = d2 - d1, t[3][j] = d1 - d3;
    }
    for (int a = 0; a < 4; ++a) {  // (B^T d) B: columns combined
      v[(4 * a + 0) * point_stride + c] = t[a][0] - t[a][2];
      v[(4 * a + 1) * point_stride + c] = t[a][1] + t[a][2];
      v[(4 * a + 2) * point_stride + c] = t[a][2] - t[a][1];
      v[(4 * a + 3) * point_stride + c] = t[a][1] - t[a][3];
    }
  }
}

// Points b, 4 + b, 8 + b, 12 + b (column b of the 4x4) of channel j, from a tile whose points are point_stride apart:
// what one pass of a 1-D transform combines.
inline std::array<float, 4> point_column(const float* points, int64_t point_stride, int b, int64_t j) {
  return {points[b * point_stride + j], points[(4 + b) * point_stride + j], points[(8 + b) * point_stride + j],
          points[(12 + b) * point_stride + j]};
}

// Y = A^T M A for one tile, channels [0, count): A^T = [1 1 1 0; 0 1 -1 -1]. Point 4a + b of channel j is at
// m[(4a + b) * point_stride + j]; output pixel (r, s) of the tile at out[2r + s][j], through the epilogue as the
// micro-kernels store a tile (accumulate, then bias, then ReLU). The epilogue is a template argument so that each
// variant is one branch-free loop the compiler vectorises.
template <bool kAccumulate, bool kBias, bool kRelu>
TG_WINOGRAD_TARGETS void transform_output_tile(const float* m, int64_t point_stride, int64_t count, float* const* out,
                                               const float* bias) {
  float* __restrict o0 = out[0];
  float* __restrict o1 = out[1];
  float* __restrict o2 = out[2];
  float* __restrict o3 = out[3];
#pragma omp simd
  for (int64_t j = 0; j < count; ++j) {
    float s[2][4];  // A^T M: rows combined
    for (int b = 0; b < 4; ++b) {
      const auto [m0, m1, m2, m3] = point_column(m, point_stride, b, j);
      s[0][b] = m0 + m1 + m2, s[1][b] = m1 - m2 - m3;
    }
    float v[4] = {s[0][0] + s[0][1] + s[0][2], s[0][1] - s[0][2] - s[0][3], s[1][0] + s[1][1] + s[1][2],
                  s[1][1] - s[1][2] - s[1][3]};
    if constexpr (kAccumulate) v[0] = o0[j] + v[0], v[1] = o1[j] + v[1], v[2] = o2[j] + v[2], v[3] = o3[j] + v[3];
    if constexpr (kBias)
      for (float& e : v) e = e + bias[j];
    if constexpr (kRelu)
      for (float& e : v) e = e < 0.0f ? 0.0f : e;
    o0[j] = v[0], o1[j] = v[1], o2[j] = v[2], o3[j] = v[3];
  }
}

using OutputTransform = void (*)(const float*, int64_t, int64_t, float* const*, const float*);
OutputTransform output_transform(const GemmEpilogue& e) {
  constexpr OutputTransform variants[8] = {
      transform_output_tile<false, false, false>, transform_output_tile<false, false, true>,
      transform_output_tile<false, true, false>,  transform_output_tile<false, true, true>,
      transform_output_tile<true, false, false>,  transform_output_tile<true, false, true>,
      transform_output_tile<true, true, false>,   transform_output_tile<true, true, true>};
  return variants[(e.accumulate ? 4 : 0) + (e.bias ? 2 : 0) + (e.relu ? 1 : 0)];
}
// The adjoint of transform_output_tile: dM = A dY A^T for one tile, channels [0, live) of one panel, written as the
// packed B operand of the kernel gradient's GEMMs (point 4a + b at dst[(4a + b) * point_stride + j]; the panel's
// columns live .. nr are zero). e[2r + s] is the gradient of output pixel (r, s) of the tile, or a zero row.
TG_WINOGRAD_TARGETS void transform_output_grad_tile(const float* const* e, int64_t live, int64_t nr, float* dst,
                                                    int64_t point_stride) {
  const float* __restrict e0 = e[0];
  const float* __restrict e1 = e[1];
  const float* __restrict e2 = e[2];
  const float* __restrict e3 = e[3];
#pragma omp simd
  for (int64_t j = 0; j < live; ++j) {
    const float t[4][2] = {{e0[j], e1[j]}, {e0[j] + e2[j], e1[j] + e3[j]}, {e0[j] - e2[j], e1[j] - e3[j]},
                           {-e2[j], -e3[j]}};  // A dY: rows spread
    for (int a = 0; a < 4; ++a) {           // (A dY) A^T: columns spread
      dst[(4 * a + 0) * point_stride + j] = t[a][0];
      dst[(4 * a + 1) * point_stride + j] = t[a][0] + t[a][1];
      dst[(4 * a + 2) * point_stride + j] = t[a][0] - t[a][1];
      dst[(4 * a + 3) * point_stride + j] = -t[a][1];
    }
  }
  for (int64_t j = live; j < nr; ++j)
    for (int64_t point = 0; point < kPoints; ++point) dst[point * point_stride + j] = 0.0f;
}

// The adjoint of transform_kernel_row: dg = G^T dU G for output channels [0, count) of one input channel, from point
// 4a + b at du[(4a + b) * point_stride + j] into tap t at dw[t * tap_stride + j] (added to it when accumulating).
template <bool kAccumulate>
TG_WINOGRAD_TARGETS void transform_kernel_grad_row(const float* du, int64_t point_stride, int64_t count, float* dw,
                                                   int64_t tap_stride) {
#pragma omp simd
  for (int64_t j = 0; j < count; ++j) {
    float r[3][4];  // G^T dU: rows gathered
    for (int b = 0; b < 4; ++b) {
      const auto [u0, u1, u2, u3] = point_column(du, point_stride, b, j);
      r[0][b] = u0 + (u1 + u2) * 0.5f, r[1][b] = (u1 - u2) * 0.5f, r[2][b] = (u1 + u2) * 0.5f + u3;
    }
    for (int ky = 0; ky < 3; ++ky) {  // (G^T dU) G: columns gathered
      const float g[3] = {r[ky][0] + (r[ky][1] + r[ky][2]) * 0.5f, (r[ky][1] - r[ky][2]) * 0.5f,
                          (r[ky][1] + r[ky][2]) * 0.5f + r[ky][3]};
      for (int kx = 0; kx < 3; ++kx) {
        float& out = dw[(3 * ky + kx) * tap_stride + j];
        out = kAccumulate ? out + g[kx] : g[kx];
      }
    }
  }
}

// The 2x2 output tiles of a geometry, in order: image, tile row, tile column.
struct TileGrid {
  int64_t tiles_h, tiles_w, image_tiles, tiles;
  explicit TileGrid(const ConvGeometry& g)
      : tiles_h((g.out_h + 1) / 2), tiles_w((g.out_w + 1) / 2), image_tiles(tiles_h * tiles_w),
        tiles(g.batch * image_tiles) {}

  // The 16 input pixels under tile `tile` (rows of `channels` floats), a zero row where the window leaves the image.
  void input_window(const float* x, const ConvGeometry& g, int64_t tile, const float* zero_row,
                    const float** window) const {
    const int64_t image = tile / image_tiles, th = tile % image_tiles / tiles_w, tw = tile % tiles_w;
    const float* base = x + image * g.in_h * g.in_w * g.in_c;
    for (int64_t r = 0; r < 4; ++r)
      for (int64_t s = 0; s < 4; ++s) {
        const int64_t iy = 2 * th - g.pad_top + r, ix = 2 * tw - g.pad_left + s;
        window[4 * r + s] =
            iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w ? zero_row : base + (iy * g.in_w + ix) * g.in_c;
      }
  }

  // The 4 output pixels of tile `tile` (rows of out_c floats in y), `outside` for those past the output's edge.
  template <class Float>
  void output_pixels(Float* y, const ConvGeometry& g, int64_t tile, Float* outside, Float** out) const {
    const int64_t image = tile / image_tiles, th = tile % image_tiles / tiles_w, tw = tile % tiles_w;
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t s = 0; s < 2; ++s) {
        const int64_t oy = 2 * th + r, ox = 2 * tw + s;
        out[2 * r + s] = oy < g.out_h && ox < g.out_w ? y + ((image * g.out_h + oy) * g.out_w + ox) * g.out_c : outside;
      }
  }
};
}  // namespace

WinogradPolicy parse_winograd_policy(const char* value) {
  const std::string name = value;
  if (name == "off") return WinogradPolicy::off;
  if (name == "on") return WinogradPolicy::on;
  if (name == "auto") return WinogradPolicy::automatic;
  throw std::runtime_error("TAPEGRAD_WINOGRAD='" + name + "' is not one of off, on, auto");
}

WinogradPolicy winograd_policy() { return policy_slot().load(std::memory_order_relaxed); }
void set_winograd_policy(WinogradPolicy policy) { policy_slot().store(policy, std::memory_order_relaxed); }

bool use_winograd(const ConvGeometry& g, WinogradPass pass) {
  const bool fits = g.kernel_h == 3 && g.kernel_w == 3 && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 &&
                    g.dilation_w == 1 && g.in_c > 0 && g.out_c > 0;
  switch (winograd_policy()) {
    case WinogradPolicy::off: return false;
    case WinogradPolicy::on: return fits;
    case WinogradPolicy::automatic: {
      if (pass == WinogradPass::forward)
        return fits && g.in_c >= kAutoMinChannelsForward && g.out_c >= kAutoMinChannelsForward;
      return fits && g.in_c >= kAutoMinChannelsKernelGrad && g.out_c >= kAutoMinChannelsKernelGrad &&
             TileGrid(g).tiles >= kAutoMinTilesKernelGrad;
    }
  }
  return false;
}

namespace {
void winograd_forward_from(const SgemmUkernel& uk, const float* x, const float* w, KernelSource source,
                           const ConvGeometry& g, float* y, const GemmEpilogue& epilogue) {
  const int64_t cin = g.in_c, cout = g.out_c, mr = uk.mr, nr = uk.nr;
  const TileGrid grid(g);
  const int64_t tiles = grid.tiles, panels = (cout + nr - 1) / nr;
  if (tiles == 0 || cout == 0) return;
  const int64_t point_floats = panels * nr * cin;
  const Tensor u = transform_weights(uk, w, cin, cout, point_floats, source);

  // Even blocks of tiles, each a whole number of micro-kernel row groups; how the work is cut never changes a value.
  const int64_t kernel_bound = std::max(kMinBlockTiles, cin * cout / (cin + cout));
  const int64_t block_max = std::max(mr, std::min(kBlockFloats / cin, kernel_bound) / mr * mr);
  const int64_t even = (tiles + block_max - 1) / block_max, per_block = (tiles + even - 1) / even;
  const int64_t block = (per_block + mr - 1) / mr * mr, blocks = (tiles + block - 1) / block;
  const int64_t col_blocks = std::clamp<int64_t>((kMinTasks + blocks - 1) / blocks, 1, panels);
  const int64_t tasks = blocks * col_blocks;
  const std::vector<float> zeros(static_cast<size_t>(cin), 0.0f);
  const float* u_data = u.data<float>();
  const OutputTransform store = output_transform(epilogue);
#pragma omp parallel for schedule(dynamic) if (tasks > 1)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t t0 = task / col_blocks * block, count = std::min(block, tiles - t0);
    const int64_t cb = task % col_blocks, p0 = panels * cb / col_blocks, p1 = panels * (cb + 1) / col_blocks;
    const int64_t j0 = p0 * nr, j1 = std::min(cout, p1 * nr);
    float* v = thread_pack_buffer(2, kPoints * block * cin);   // [point][tile][Cin]
    float* m = thread_pack_buffer(3, kPoints * block * cout);  // [point][tile][Cout], columns j0 .. j1 used
    thread_local std::vector<float> discard;  // where the outputs of a tile past the image's edge go
    discard.resize(static_cast<size_t>(cout));

    for (int64_t i = 0; i < count; ++i) {
      const float* window[kPoints];
      grid.input_window(x, g, t0 + i, zeros.data(), window);
      transform_input_tile(window, cin, v + i * cin, block * cin);
    }

    // Point by point, panel by panel: the point's [count, Cin] block of V stays in L2 while each panel passes.
    thread_local std::vector<const float*> rows;
    rows.resize(static_cast<size_t>(mr));
    for (int64_t point = 0; point < kPoints; ++point)
      for (int64_t p = p0; p < p1; ++p) {
        const float* panel = u_data + point * point_floats + p * cin * nr;
        for (int64_t i = 0; i < count; i += mr) {
          const int64_t live = std::min(mr, count - i);
          for (int64_t r = 0; r < mr; ++r)  // rows past the block repeat its last: computed, never stored
            rows[r] = v + (point * block + i + std::min(r, live - 1)) * cin;
          uk.run_indirect(1, cin, rows.data(), panel, m + (point * block + i) * cout + p * nr, cout, live,
                          std::min(nr, cout - p * nr), TileEpilogue{});
        }
      }

    for (int64_t i = 0; i < count; ++i) {
      float* out[4];
      grid.output_pixels(y, g, t0 + i, discard.data(), out);
      for (float*& o : out) o += j0;
      store(m + i * cout + j0, block * cout, j1 - j0, out, epilogue.bias ? epilogue.bias + j0 : nullptr);
    }
  }
}
}  // namespace

void winograd_conv_forward(const SgemmUkernel& uk, const float* x, const float* w, const ConvGeometry& g, float* y,
                           const GemmEpilogue& epilogue) {
  winograd_forward_from(uk, x, w, KernelSource::as_used, g, y, epilogue);
}

void winograd_conv_input_grad(const SgemmUkernel& uk, const float* dy, const float* w, const ConvGeometry& back,
                              float* dx) {
  winograd_forward_from(uk, dy, w, KernelSource::of_input_grad, back, dx, GemmEpilogue{});
}

void winograd_conv_kernel_grad(const SgemmUkernel& uk, const float* x, const float* dy, const ConvGeometry& g,
                               float* dw, const GemmEpilogue& epilogue) {
  const int64_t cin = g.in_c, cout = g.out_c, mr = uk.mr, nr = uk.nr;
  const TileGrid grid(g);
  const int64_t tiles = grid.tiles, panels = (cout + nr - 1) / nr, row_panels = (cin + mr - 1) / mr;
  // dU [point][Cin][Cout] = sum over tiles of V^T dM, point by point. Chunks of tiles are transformed straight into
  // the packed operands of the micro-kernels (V^T as mr-row panels, dM as nr-column panels, k running over tiles),
  // then multiplied; chunk after chunk in order, so every dU element sums its tiles in the same order whatever the
  // thread count.
  Tensor du_storage = Tensor::empty({kPoints * cin * cout});
  float* du = du_storage.data<float>();
  std::fill(du, du + kPoints * cin * cout, 0.0f);
  const int64_t chunk = std::clamp<int64_t>(kChunkFloats / (kPoints * (row_panels * mr + panels * nr)), 1,
                                            std::max<int64_t>(tiles, 1));
  Tensor v_storage = Tensor::empty({kPoints * row_panels * chunk * mr});
  Tensor dm_storage = Tensor::empty({kPoints * panels * chunk * nr});
  float* v = v_storage.data<float>();
  float* dm = dm_storage.data<float>();
  // A zero row as long as an input pixel and as an output pixel plus a panel (a panel's offset into it reads zeros).
  const std::vector<float> zeros(static_cast<size_t>(std::max(cin, cout + nr)), 0.0f);
  const int64_t kc = std::min<int64_t>(uk.kc, chunk);
  const int64_t row_blocks = (row_panels + kPanelsPerRowBlock - 1) / kPanelsPerRowBlock;
  const int64_t products = kPoints * row_blocks * panels;
  for (int64_t c0 = 0; c0 < tiles; c0 += chunk) {
    const int64_t count = std::min(chunk, tiles - c0);
#pragma omp parallel for schedule(static) if (count * (cin + cout) * kPoints > kParallelThreshold)
    for (int64_t i = 0; i < count; ++i) {
      const float* window[kPoints];
      grid.input_window(x, g, c0 + i, zeros.data(), window);
      thread_local std::vector<float> row;  // the tile's 16 transformed input pixels, padded to whole panels
      row.resize(static_cast<size_t>(kPoints * row_panels * mr));
      transform_input_tile(window, cin, row.data(), row_panels * mr);
      for (int64_t point = 0; point < kPoints; ++point) {
        float* src = row.data() + point * row_panels * mr;
        std::fill(src + cin, src + row_panels * mr, 0.0f);
        // Plain loops: a panel row is mr floats, too short for a library call to pay.
        for (int64_t q = 0; q < row_panels; ++q, src += mr) {
          float* dst = v + ((point * row_panels + q) * chunk + i) * mr;
          for (int64_t r = 0; r < mr; ++r) dst[r] = src[r];
        }
      }
      const float* e[4];
      grid.output_pixels(dy, g, c0 + i, zeros.data(), e);
      for (int64_t p = 0; p < panels; ++p) {
        const float* ep[4] = {e[0] + p * nr, e[1] + p * nr, e[2] + p * nr, e[3] + p * nr};
        transform_output_grad_tile(ep, std::min(nr, cout - p * nr), nr, dm + (p * chunk + i) * nr,
                                   panels * chunk * nr);
      }
    }
#pragma omp parallel for schedule(dynamic) if (products > 1)
    for (int64_t task = 0; task < products; ++task) {
      const int64_t point = task / (row_blocks * panels), rb = task / panels % row_blocks, p = task % panels;
      const int64_t q0 = rb * kPanelsPerRowBlock, q1 = std::min(row_panels, q0 + kPanelsPerRowBlock);
      const float* b = dm + (point * panels + p) * chunk * nr;
      float* out = du + point * cin * cout + p * nr;
      for (int64_t k0 = 0; k0 < count; k0 += kc) {
        const int64_t depth = std::min(kc, count - k0);
        for (int64_t q = q0; q < q1; ++q)
          uk.run(depth, v + ((point * row_panels + q) * chunk + k0) * mr, b + k0 * nr, out + q * mr * cout, cout,
                 std::min(mr, cin - q * mr), std::min(nr, cout - p * nr), TileEpilogue{true, nullptr, false});
      }
    }
  }
  const auto transform = epilogue.accumulate ? transform_kernel_grad_row<true> : transform_kernel_grad_row<false>;
#pragma omp parallel for schedule(static) if (9 * cin * cout > kParallelThreshold)
  for (int64_t ci = 0; ci < cin; ++ci) transform(du + ci * cout, cin * cout, cout, dw + ci * cout, cin * cout);
}

}  // namespace tg::kernels
