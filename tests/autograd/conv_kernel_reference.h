// The float64 references the convolution kernel tests compare against (gemm_kernels_test.cpp,
// conv_special_test.cpp): the direct definition of a convolution, with the sums of its terms' magnitudes for the
// rounding bounds.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/kernels/im2col.h"

namespace tg::testing {

inline std::vector<float> random_floats(size_t n, uint64_t seed) {
  Tensor t({static_cast<int64_t>(n)});
  Rng(seed).fill_uniform(t, -1.0, 1.0);
  return std::vector<float>(t.data<float>(), t.data<float>() + n);
}

// The direct definition of a convolution in float64: y, and the input and kernel gradients for a given dy, with the
// sums of the absolute values of their terms (for the rounding bound).
struct DirectConv {
  std::vector<double> y, dw, dx, y_abs, dw_abs, dx_abs;
};
inline DirectConv direct_conv(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& dy,
                              const kernels::ConvGeometry& g) {
  DirectConv r;
  r.y.assign(static_cast<size_t>(g.lines() * g.out_w * g.out_c), 0.0);
  r.dw.assign(static_cast<size_t>(g.patch() * g.out_c), 0.0);
  r.dx.assign(static_cast<size_t>(g.batch * g.in_h * g.in_w * g.in_c), 0.0);
  r.y_abs = r.y, r.dw_abs = r.dw, r.dx_abs = r.dx;
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t oy = 0; oy < g.out_h; ++oy)
      for (int64_t ox = 0; ox < g.out_w; ++ox)
        for (int64_t ky = 0; ky < g.kernel_h; ++ky)
          for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
            const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
            const int64_t ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
            if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
            for (int64_t ci = 0; ci < g.in_c; ++ci) {
              const int64_t in = ((n * g.in_h + iy) * g.in_w + ix) * g.in_c + ci;
              const double xv = x[in];
              const int64_t out = ((n * g.out_h + oy) * g.out_w + ox) * g.out_c;
              const int64_t q = (ky * g.kernel_w + kx) * g.in_c + ci;
              for (int64_t co = 0; co < g.out_c; ++co) {
                r.y[out + co] += xv * w[q * g.out_c + co];
                r.dw[q * g.out_c + co] += xv * dy[out + co];
                r.y_abs[out + co] += std::abs(xv * w[q * g.out_c + co]);
                r.dw_abs[q * g.out_c + co] += std::abs(xv * dy[out + co]);
                r.dx[in] += double(dy[out + co]) * w[q * g.out_c + co];
                r.dx_abs[in] += std::abs(double(dy[out + co]) * w[q * g.out_c + co]);
              }
            }
          }
  return r;
}

inline kernels::ConvGeometry geometry(int64_t batch, int64_t h, int64_t w, int64_t cin, int64_t cout, int64_t kh,
                                      int64_t kw, int64_t stride, int64_t dilation, int64_t pad) {
  kernels::ConvGeometry g;
  g.batch = batch, g.in_h = h, g.in_w = w, g.in_c = cin, g.out_c = cout;
  g.kernel_h = kh, g.kernel_w = kw, g.stride_h = g.stride_w = stride, g.dilation_h = g.dilation_w = dilation;
  g.pad_top = g.pad_left = pad;
  g.out_h = (h + 2 * pad - (kh - 1) * dilation - 1) / stride + 1;
  g.out_w = (w + 2 * pad - (kw - 1) * dilation - 1) / stride + 1;
  return g;
}

}  // namespace tg::testing
