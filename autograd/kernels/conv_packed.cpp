// The float32 convolution passes on the packed micro-kernels (packed_gemm.h), with im2col fused into packing
// (conv_pack.h). Work is split into blocks of C only, with sizes taken from the shape (never the thread count),
// and each block sums its k in the same fixed kc blocks: the result is bitwise the same for any thread count.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "autograd/kernels/amx_conv.h"
#include "autograd/kernels/conv_gemm.h"
#include "autograd/kernels/conv_pack.h"
#include "autograd/kernels/conv_special.h"
#include "autograd/kernels/packed_gemm.h"
#include "autograd/kernels/winograd.h"
#include "autograd/parallel.h"
#include "autograd/tensor.h"

namespace tg::kernels {

namespace {
// A parallel task holds at least about this many FLOPs, so scheduling costs little beside it...
constexpr double kTaskFlops = 2e6;
// ...but there are at least this many tasks when the output allows, so two or more threads balance.
constexpr int64_t kMinTasks = 32;
// The outer-product kernel gradient also splits a tap's channels into blocks of this many tiles.
constexpr int64_t kTilesPerChannelBlock = 8;

// The whole kernel [k, n] packed once per call into nr-column panels, k x nr each. In tensor storage (64-byte
// aligned, as the kernels' aligned loads want): the cache hands the same block back every step, so packing maps no
// fresh pages (a plain allocation of this size would, on every call).
Tensor pack_weights(const SgemmUkernel& uk, const float* w, int64_t k, int64_t n) {
  Tensor packed = Tensor::empty({packed_b_floats(uk, k, n)});
  float* dst = packed.data<float>();
  const int64_t panels = (n + uk.nr - 1) / uk.nr;
#pragma omp parallel for schedule(static) if (k * n > kParallelThreshold)
  for (int64_t p = 0; p < panels; ++p)
    pack_b_matrix(uk, false, w, n, 0, k, p * uk.nr, std::min(uk.nr, n - p * uk.nr), k * uk.nr, dst + p * k * uk.nr);
  return packed;
}

// Where each tap of the kernel reads, relative to the top-left corner of an output pixel's window: in rows and
// columns, and in floats for a window wholly inside the image (span_h x span_w input pixels).
struct TapOffsets {
  std::vector<int64_t> dy, dx, floats;
  int64_t span_h = 0, span_w = 0;
};
TapOffsets tap_offsets(const ConvGeometry& g) {
  TapOffsets t;
  for (int64_t ky = 0; ky < g.kernel_h; ++ky)
    for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
      t.dy.push_back(ky * g.dilation_h), t.dx.push_back(kx * g.dilation_w);
      t.floats.push_back((t.dy.back() * g.in_w + t.dx.back()) * g.in_c);
    }
  t.span_h = (g.kernel_h - 1) * g.dilation_h + 1, t.span_w = (g.kernel_w - 1) * g.dilation_w + 1;
  return t;
}

// The indirect kernels' row table for output pixels p0 .. p0 + rows (rows <= mr * groups, in groups of mr):
// entry [group][tap][r] is the input pixel tap reads for row r of the group, or zero_row in the padding; rows past
// the last repeat it (computed, never stored). The pixels are walked in order from the first one's (image, oy, ox),
// and a window wholly inside the image takes its taps' fixed offsets, with no bounds check: building the table
// otherwise cost a quarter of a 16-channel layer's time.
void fill_row_table(const ConvGeometry& g, const TapOffsets& tap, const float* x, const float* zero_row, int64_t mr,
                    int64_t p0, int64_t rows, const float** table) {
  const int64_t taps = static_cast<int64_t>(tap.floats.size()), first_line = p0 / g.out_w;
  int64_t ox = p0 % g.out_w, oy = first_line % g.out_h, image = first_line / g.out_h;
  for (int64_t r0 = 0; r0 < rows; r0 += mr) {
    const float** entry = table + r0 * taps;
    const int64_t live = std::min(mr, rows - r0);
    for (int64_t r = 0; r < live; ++r) {
      const int64_t y0 = oy * g.stride_h - g.pad_top, x0 = ox * g.stride_w - g.pad_left;
      if (y0 >= 0 && y0 + tap.span_h <= g.in_h && x0 >= 0 && x0 + tap.span_w <= g.in_w) {
        const float* corner = x + ((image * g.in_h + y0) * g.in_w + x0) * g.in_c;
        for (int64_t i = 0; i < taps; ++i) entry[i * mr + r] = corner + tap.floats[i];
      } else {
        const float* base = x + image * g.in_h * g.in_w * g.in_c;
        for (int64_t i = 0; i < taps; ++i) {
          const int64_t iy = y0 + tap.dy[i], ix = x0 + tap.dx[i];
          entry[i * mr + r] =
              iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w ? zero_row : base + (iy * g.in_w + ix) * g.in_c;
        }
      }
      if (++ox == g.out_w) {
        ox = 0;
        if (++oy == g.out_h) oy = 0, ++image;
      }
    }
    for (int64_t r = live; r < mr; ++r)
      for (int64_t i = 0; i < taps; ++i) entry[i * mr + r] = entry[i * mr + live - 1];
  }
}

// Whether dy [pixels, n] can serve as its own packed B: one nr-column panel whose rows are aligned as the
// micro-kernels' loads want (the kernels load B panels with aligned vector loads).
bool dy_is_packed_panel(const SgemmUkernel& uk, const float* dy, int64_t n) {
  return n == uk.nr && reinterpret_cast<uintptr_t>(dy) % 64 == 0 && (n * sizeof(float)) % 64 == 0;
}

// The kernel gradient on the outer-product kernels, for layers with at least mr input channels: a tile's rows are mr
// adjacent channels of one tap, read in place from each pixel (no packing of the patches); dy is packed per block
// of pixels (or read in place when it is one panel wide) and shared by all the taps and tiles of a task. Group
// `group` of the pixels sums into sums + group * patch * out_c.
void kernel_grad_outer(const SgemmUkernel& uk, const float* x, const float* dy, const ConvGeometry& g, int64_t groups,
                       float* sums, const GemmEpilogue& epilogue) {
  const int64_t c = g.in_c, n = g.out_c, m = g.patch(), taps = g.kernel_h * g.kernel_w, lines = g.lines();
  const int64_t channel_block = uk.mr * kTilesPerChannelBlock, channel_blocks = (c + channel_block - 1) / channel_block;
  // A task takes all the taps when groups and channel blocks already make tasks enough, so that it packs each block
  // of dy once for all of them; otherwise the taps are shared out too. How work is cut never changes what is summed
  // in which order (each group sums its pixels in kc blocks, in order), only who does it.
  const int64_t tap_blocks = std::clamp<int64_t>((kMinTasks + groups * channel_blocks - 1) / (groups * channel_blocks),
                                                 1, taps);
  const int64_t b_panels = (n + uk.nr - 1) / uk.nr, tasks = groups * tap_blocks * channel_blocks;
  const bool dy_in_place = dy_is_packed_panel(uk, dy, n);
  const TapOffsets tap = tap_offsets(g);
  // A tile at the last channels of a tap reads up to mr floats past them: past the end of x for its last pixels,
  // which are therefore read from a copy with zeros after it; padding reads a zero row as long.
  const int64_t x_size = g.batch * g.in_h * g.in_w * c, tail_size = std::min(x_size, c + uk.mr);
  const float* x_end = x + x_size;
  std::vector<float> tail(static_cast<size_t>(tail_size + uk.mr), 0.0f);
  std::copy(x_end - tail_size, x_end, tail.begin());
  const std::vector<float> zeros(static_cast<size_t>(c + uk.mr), 0.0f);
#pragma omp parallel for schedule(dynamic) if (tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t group = t / (tap_blocks * channel_blocks), tap_block = t / channel_blocks % tap_blocks;
    const int64_t t0 = taps * tap_block / tap_blocks, t1 = taps * (tap_block + 1) / tap_blocks;
    const int64_t c0 = t % channel_blocks * channel_block, c1 = std::min(c, c0 + channel_block);
    const int64_t p0 = lines * group / groups * g.out_w, p1 = lines * (group + 1) / groups * g.out_w;
    const int64_t kc_max = k_block(uk, std::max<int64_t>(p1 - p0, 1));
    float* b_packed = dy_in_place ? nullptr : thread_pack_buffer(1, kc_max * b_panels * uk.nr);
    thread_local std::vector<const float*> source;
    source.resize(static_cast<size_t>(kc_max));
    float* out = sums + group * m * n;
    for (int64_t k0 = 0; k0 < p1 - p0; k0 += kc_max) {
      const int64_t kc = std::min(kc_max, p1 - p0 - k0), first = p0 + k0;
      const float* b_block = dy + first * n;
      if (!dy_in_place) {
        pack_b_matrix(uk, false, dy, n, first, kc, 0, n, kc * uk.nr, b_packed);
        b_block = b_packed;
      }
      const TileEpilogue te{k0 > 0 || epilogue.accumulate, nullptr, false};
      const int64_t first_line = first / g.out_w, first_ox = first % g.out_w;
      for (int64_t i = t0; i < t1; ++i) {
        // The input pixel each of the block's pixels reads through tap i, walking the pixels in order.
        int64_t image = first_line / g.out_h, oy = first_line % g.out_h, ox = first_ox;
        for (int64_t kk = 0; kk < kc; ++kk) {
          const int64_t iy = oy * g.stride_h - g.pad_top + tap.dy[i], ix = ox * g.stride_w - g.pad_left + tap.dx[i];
          const float* src = zeros.data();
          if (iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w) {
            src = x + ((image * g.in_h + iy) * g.in_w + ix) * c;
            if (src + c + uk.mr > x_end) src = tail.data() + (src - (x_end - tail_size));
          }
          source[kk] = src;
          if (++ox == g.out_w) {
            ox = 0;
            if (++oy == g.out_h) oy = 0, ++image;
          }
        }
        float* out_tap = out + i * c * n;
        for (int64_t ci0 = c0; ci0 < c1; ci0 += uk.mr)
          for (int64_t j0 = 0; j0 < n; j0 += uk.nr)
            uk.run_outer(kc, source.data(), ci0, b_block + (j0 / uk.nr) * kc * uk.nr, out_tap + ci0 * n + j0, n,
                         std::min(uk.mr, c - ci0), std::min(uk.nr, n - j0), te);
      }
    }
  }
}
}  // namespace

void conv_forward(const float* x, const float* w, const ConvGeometry& g, float* y, const GemmEpilogue& epilogue) {
  const SgemmUkernel& uk = active_sgemm_ukernel_for_columns(g.out_c);
  const int64_t m = g.lines() * g.out_w, n = g.out_c, k = g.patch(), taps = g.kernel_h * g.kernel_w;
  if (m <= 0 || n <= 0) return;
  if (k == 0) return apply_epilogue_only(m, n, y, n, epilogue);
  if (use_amx_bf16(g)) return amx_conv_forward(x, w, g, y, epilogue);
  if (first_layer_forward_applies(g)) return first_layer_forward(uk.isa, x, w, g, y, epilogue);
  if (pointwise_few_outputs_applies(g)) return pointwise_few_forward(uk.isa, x, w, g, y, epilogue);
  if (direct_3x3_forward_applies(uk.isa, g)) return direct_3x3_forward(uk.isa, x, w, g, y, epilogue);
  if (use_winograd(g, WinogradPass::forward)) return winograd_conv_forward(uk, x, w, g, y, epilogue);
  // No im2col and no packing of A: the indirect micro-kernel reads each tap's input pixel where it lies, through a
  // table of row pointers (a zero row for padding); only the kernel is packed, once per call.
  const Tensor weights = pack_weights(uk, w, k, n);
  const std::vector<float> zeros(static_cast<size_t>(g.in_c), 0.0f);
  const TapOffsets tap = tap_offsets(g);
  // Tasks are blocks of output pixels, a few thousand multiply-adds of work or more each.
  const int64_t mc_blocks = (m + uk.mc - 1) / uk.mc;
  const double block_flops = 2.0 * static_cast<double>(uk.mc * k * n);
  const int64_t blocks_per_task = std::clamp<int64_t>(static_cast<int64_t>(kTaskFlops / block_flops), 1,
                                                      std::clamp<int64_t>(mc_blocks / kMinTasks, 1, 8));
  const int64_t task_rows = blocks_per_task * uk.mc, row_tasks = (m + task_rows - 1) / task_rows;
  // Few rows (a deep layer's few pixels, under a large kernel): the kernel's panels are shared out too, so that each
  // task streams only its own panels (a 4608 x 1024 kernel is 19 MB) and the threads balance.
  const int64_t panels = (n + uk.nr - 1) / uk.nr;
  const int64_t col_tasks = std::clamp<int64_t>((kMinTasks + row_tasks - 1) / row_tasks, 1, panels);
  const int64_t tasks = row_tasks * col_tasks;
  const float* packed = weights.data<float>();
  const float* zero_row = zeros.data();
#pragma omp parallel for schedule(dynamic) if (tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t i0 = t / col_tasks * task_rows, rows = std::min(task_rows, m - i0);
    const int64_t cb = t % col_tasks, p0 = panels * cb / col_tasks, p1 = panels * (cb + 1) / col_tasks;
    const int64_t groups = (rows + uk.mr - 1) / uk.mr;
    thread_local std::vector<const float*> table;
    table.resize(static_cast<size_t>(groups * taps * uk.mr));
    fill_row_table(g, tap, x, zero_row, uk.mr, i0, rows, table.data());
    // Panel by panel, so one packed kernel panel (k x nr) stays in cache while the task's rows pass over it.
    for (int64_t j0 = p0 * uk.nr; j0 < std::min(n, p1 * uk.nr); j0 += uk.nr) {
      const TileEpilogue te{epilogue.accumulate, epilogue.bias ? epilogue.bias + j0 : nullptr, epilogue.relu};
      const float* panel = packed + (j0 / uk.nr) * k * uk.nr;
      const int64_t cols = std::min(uk.nr, n - j0);
      for (int64_t grp = 0; grp < groups; ++grp)
        uk.run_indirect(taps, g.in_c, table.data() + grp * taps * uk.mr, panel, y + (i0 + grp * uk.mr) * n + j0, n,
                        std::min(uk.mr, rows - grp * uk.mr), cols, te);
    }
  }
}

void conv_kernel_grad(const float* x, const float* dy, const ConvGeometry& g, float* dw, const GemmEpilogue& epilogue) {
  const SgemmUkernel& uk = active_sgemm_ukernel_for_columns(g.out_c);
  // dw [patch, n] = patches^T [patch, pixels] * dy [pixels, n]: the long pixel axis is the GEMM's k.
  const int64_t m = g.patch(), n = g.out_c, pixels = g.lines() * g.out_w;
  if (epilogue.bias || epilogue.relu)
    throw std::invalid_argument("conv_kernel_grad: a kernel gradient takes only the accumulate epilogue, not bias or ReLU");
  if (m <= 0 || n <= 0) return;
  if (pixels == 0) return apply_epilogue_only(m, n, dw, n, epilogue);
  if (use_amx_bf16(g)) return amx_conv_kernel_grad(x, dy, g, dw, epilogue);
  if (direct_kernel_grad_applies(uk.isa, g)) return direct_kernel_grad(uk.isa, x, dy, g, dw, epilogue);
  if (use_winograd(g, WinogradPass::kernel_grad)) return winograd_conv_kernel_grad(uk, x, dy, g, dw, epilogue);
  if (pointwise_few_outputs_applies(g)) return pointwise_few_kernel_grad(uk.isa, x, dy, g, dw, epilogue);
  // Pixel ranges (whole output lines) each sum into their own copy of dw, added in order at the end: as many as
  // a small kernel allows, for parallelism; one when dw is large, which then has rows enough to share out.
  const int64_t lines = g.lines(), groups = kernel_grad_groups(g, m * n);
  Tensor partial = Tensor::empty(groups > 1 ? Shape{groups, m * n} : Shape{0});  // each group writes all of its sums
  float* sums = groups > 1 ? partial.data<float>() : dw;
  const GemmEpilogue in_place = groups > 1 ? GemmEpilogue{} : epilogue;
  if (g.in_c >= uk.mr) {
    kernel_grad_outer(uk, x, dy, g, groups, sums, in_place);
  } else {
    // Fewer input channels than kernel rows (the 1-channel first layer): patches^T packed from the image.
    const int64_t row_block = std::min<int64_t>(uk.mc, kMaxPatchRows);
    const int64_t row_blocks = (m + row_block - 1) / row_block, tasks = groups * row_blocks;
    const int64_t b_panels = (n + uk.nr - 1) / uk.nr;
#pragma omp parallel for schedule(dynamic) if (tasks > 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t group = t / row_blocks, q0 = (t % row_blocks) * row_block, rows = std::min(row_block, m - q0);
      const int64_t p0 = lines * group / groups * g.out_w, p1 = lines * (group + 1) / groups * g.out_w;
      float* b_packed = thread_pack_buffer(1, k_block(uk, std::max<int64_t>(p1 - p0, 1)) * b_panels * uk.nr);
      gemm_blocked(
          uk, rows, n, p1 - p0,
          [&](int64_t a0, int64_t a_rows, int64_t k0, int64_t kc, float* dst) {
            pack_conv_patches_transposed(uk, x, g, q0 + a0, a_rows, p0 + k0, kc, dst);
          },
          [&](int64_t k0, int64_t kc) {
            pack_b_matrix(uk, false, dy, n, p0 + k0, kc, 0, n, kc * uk.nr, b_packed);
            return PackedBlock{b_packed, kc * uk.nr};
          },
          sums + group * m * n + q0 * n, n, in_place);
    }
  }
  if (groups > 1) add_group_sums(partial.data<float>(), groups, m, n, n, dw, epilogue.accumulate);
}

int64_t kernel_grad_groups(const ConvGeometry& g, int64_t dw_size) {
  const int64_t pixels = g.lines() * g.out_w;
  return std::clamp<int64_t>(std::min({g.lines(), kMaxPartialSums, pixels / kMinGroupPixels,
                                       kPartialSumElements / std::max<int64_t>(dw_size, 1)}),
                             1, kMaxPartialSums);
}

void add_group_sums(const float* partial, int64_t groups, int64_t rows, int64_t cols, int64_t ld, float* dw,
                    bool accumulate) {
#pragma omp parallel for schedule(static) if (rows * cols * groups > kParallelThreshold)
  for (int64_t q = 0; q < rows; ++q) {
    float* row = dw + q * cols;
    for (int64_t j = 0; j < cols; ++j) {
      float total = 0;
      for (int64_t group = 0; group < groups; ++group) total += partial[(group * rows + q) * ld + j];
      row[j] = accumulate ? row[j] + total : total;
    }
  }
}

}  // namespace tg::kernels
