// batch_norm over the last (channel) axis, Keras's BatchNormalization(axis=-1).
// The input is viewed as [rows, C]. Statistics are accumulated in double with fixed chunking, so a float32
// run is both accurate and bit-identical for any thread count.
#include <cmath>
#include <vector>

#include "autograd/kernels/deterministic_sums.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace tg {

namespace {

void check_channel_vector(const char* what, const Tensor& t, int64_t c, const Shape& x_shape) {
  if (t.rank() != 1 || t.dim(0) != c)
    throw std::invalid_argument(std::string("batch_norm: ") + what + " has shape " + shape_str(t.shape()) +
                                " but the input " + shape_str(x_shape) + " has " + std::to_string(c) +
                                " channels on its last axis; it must have shape [" + std::to_string(c) + "]");
}

void check_inputs(const Variable& x, const Variable& gamma, const Variable& beta, const Tensor& moving_mean,
                  const Tensor& moving_variance) {
  if (!x.defined()) throw std::invalid_argument("batch_norm: the input is undefined");
  if (x.rank() < 2)
    throw std::invalid_argument("batch_norm: input of shape " + shape_str(x.shape()) +
                                " needs at least two axes ([batch, ..., channels]); normalisation runs over every "
                                "axis but the last");
  const int64_t c = x.dim(-1);
  for (auto [what, v] : {std::pair{"gamma", &gamma}, std::pair{"beta", &beta}}) {
    if (!v->defined()) continue;
    check_channel_vector(what, v->value(), c, x.shape());
    if (v->dtype() != x.dtype())
      throw std::invalid_argument(std::string("batch_norm: ") + what + " is " + dtype_name(v->dtype()) +
                                  " but the input is " + dtype_name(x.dtype()));
  }
  check_channel_vector("moving_mean", moving_mean, c, x.shape());
  check_channel_vector("moving_variance", moving_variance, c, x.shape());
}

std::vector<double> values_or(const Variable& v, int64_t c, double fallback) {
  return v.defined() ? v.value().to_vector() : std::vector<double>(static_cast<size_t>(c), fallback);
}

// Batch mean and biased variance per channel (two passes: the second sums squared deviations, which stays
// accurate when the mean is large compared with the spread).
void batch_moments(const Tensor& x, int64_t rows, int64_t c, std::vector<double>& mean, std::vector<double>& var) {
  mean.assign(static_cast<size_t>(c), 0.0);
  var.assign(static_cast<size_t>(c), 0.0);
  dispatch(x.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    kernels::chunked_sums(rows, c, mean.data(), [px, c](int64_t r, double* acc) {
      const T* row = px + r * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) acc[j] += static_cast<double>(row[j]);
    });
    for (double& m : mean) m /= static_cast<double>(rows);
    const double* pm = mean.data();
    kernels::chunked_sums(rows, c, var.data(), [px, pm, c](int64_t r, double* acc) {
      const T* row = px + r * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) {
        const double d = static_cast<double>(row[j]) - pm[j];
        acc[j] += d * d;
      }
    });
    for (double& v : var) v /= static_cast<double>(rows);
  });
}

// y = x * scale + shift per channel.
Tensor affine_channels(const Tensor& x, int64_t rows, int64_t c, const std::vector<double>& scale,
                       const std::vector<double>& shift) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    std::vector<T> s(scale.begin(), scale.end()), t(shift.begin(), shift.end());
    const T* px = x.data<T>();
    const T* ps = s.data();
    const T* pt = t.data();
    T* py = y.data<T>();
#pragma omp parallel for schedule(static) if (rows * c > kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) py[r * c + j] = px[r * c + j] * ps[j] + pt[j];
    }
  });
  return y;
}

// Per channel: sum(g) and sum(g * xhat) with xhat = (x - mean) * inv_std.
void grad_sums(const Tensor& g, const Tensor& x, int64_t rows, int64_t c, const std::vector<double>& mean,
               const std::vector<double>& inv_std, std::vector<double>& sum_g, std::vector<double>& sum_gxhat) {
  std::vector<double> both(static_cast<size_t>(2 * c));
  dispatch(x.dtype(), [&]<class T>() {
    const T* pg = g.data<T>();
    const T* px = x.data<T>();
    const double* pm = mean.data();
    const double* pi = inv_std.data();
    kernels::chunked_sums(rows, 2 * c, both.data(), [=](int64_t r, double* acc) {
      const T* gr = pg + r * c;
      const T* xr = px + r * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) {
        const double gj = static_cast<double>(gr[j]);
        acc[j] += gj;
        acc[c + j] += gj * (static_cast<double>(xr[j]) - pm[j]) * pi[j];
      }
    });
  });
  sum_g.assign(both.begin(), both.begin() + c);
  sum_gxhat.assign(both.begin() + c, both.end());
}

Tensor channel_tensor(const std::vector<double>& v, DType dtype) {
  return Tensor::from(std::span<const double>(v), Shape{static_cast<int64_t>(v.size())}, dtype);
}

}  // namespace

Variable batch_norm(const Variable& x, const Variable& gamma, const Variable& beta, Tensor& moving_mean,
                    Tensor& moving_variance, bool training, const BatchNormOptions& options) {
  check_inputs(x, gamma, beta, moving_mean, moving_variance);
  const int64_t c = x.dim(-1), rows = x.numel() / std::max<int64_t>(c, 1);
  if (training && rows == 0)
    throw std::invalid_argument("batch_norm: training needs at least one row to take statistics from, got shape " +
                                shape_str(x.shape()));

  std::vector<double> mean, var;
  if (training) {
    batch_moments(x.value(), rows, c, mean, var);
    // moving = moving * momentum + batch * (1 - momentum). tf.keras feeds the Bessel-corrected variance; a
    // single row has no spread to correct, so n - 1 is floored at 1 there (as TensorFlow's fused kernel does).
    const double bessel = options.unbiased_moving_variance
                              ? static_cast<double>(rows) / static_cast<double>(std::max<int64_t>(rows - 1, 1))
                              : 1.0;
    const double m = options.momentum;
    for (int64_t j = 0; j < c; ++j) {
      moving_mean.set_flat(j, moving_mean.flat(j) * m + mean[j] * (1.0 - m));
      moving_variance.set_flat(j, moving_variance.flat(j) * m + var[j] * bessel * (1.0 - m));
    }
  } else {
    mean = moving_mean.to_vector();
    var = moving_variance.to_vector();
  }

  std::vector<double> inv_std(static_cast<size_t>(c)), scale(static_cast<size_t>(c)), shift(static_cast<size_t>(c));
  const std::vector<double> g_vals = values_or(gamma, c, 1.0), b_vals = values_or(beta, c, 0.0);
  for (int64_t j = 0; j < c; ++j) {
    inv_std[j] = 1.0 / std::sqrt(var[j] + options.epsilon);
    scale[j] = g_vals[j] * inv_std[j];
    shift[j] = b_vals[j] - mean[j] * scale[j];
  }
  Tensor y = affine_channels(x.value(), rows, c, scale, shift);

  return record("batch_norm", std::move(y), {&x, &gamma, &beta},
                [x, gamma, beta, rows, c, training, mean, inv_std, g_vals](const Tensor& g) {
    const bool want_x = x.requires_grad();
    const bool want_gamma = gamma.defined() && gamma.requires_grad();
    const bool want_beta = beta.defined() && beta.requires_grad();
    // In training the statistics depend on x, which adds the two mean terms to dx:
    //   dx = gamma * inv_std * (g - mean(g) - xhat * mean(g * xhat)).
    // In inference they are constants and dx = gamma * inv_std * g.
    const bool need_sums = want_gamma || want_beta || (want_x && training);
    std::vector<double> sum_g, sum_gxhat;
    if (need_sums) grad_sums(g, x.value(), rows, c, mean, inv_std, sum_g, sum_gxhat);
    if (want_gamma) gamma.node()->accumulate_grad(channel_tensor(sum_gxhat, g.dtype()));
    if (want_beta) beta.node()->accumulate_grad(channel_tensor(sum_g, g.dtype()));
    if (!want_x) return;

    // dx = k * (g - a) - (x - mean) * b per channel.
    std::vector<double> k(static_cast<size_t>(c)), a(static_cast<size_t>(c), 0.0), b(static_cast<size_t>(c), 0.0);
    const double n = static_cast<double>(rows);
    for (int64_t j = 0; j < c; ++j) {
      k[j] = g_vals[j] * inv_std[j];
      if (training) {
        a[j] = sum_g[j] / n;
        b[j] = k[j] * inv_std[j] * sum_gxhat[j] / n;
      }
    }
    Tensor gx = Tensor::empty(x.shape(), g.dtype());
    dispatch(g.dtype(), [&]<class T>() {
      const std::vector<T> kt(k.begin(), k.end()), at(a.begin(), a.end()), bt(b.begin(), b.end()),
          mt(mean.begin(), mean.end());
      const T* pk = kt.data();
      const T* pa = at.data();
      const T* pb = bt.data();
      const T* pm = mt.data();
      const T* pg = g.data<T>();
      const T* px = x.value().data<T>();
      T* out = gx.data<T>();
#pragma omp parallel for schedule(static) if (rows * c > kParallelThreshold)
      for (int64_t r = 0; r < rows; ++r) {
#pragma omp simd
        for (int64_t j = 0; j < c; ++j)
          out[r * c + j] = pk[j] * (pg[r * c + j] - pa[j]) - (px[r * c + j] - pm[j]) * pb[j];
      }
    });
    x.node()->accumulate_grad(std::move(gx));
  });
}

}  // namespace tg
