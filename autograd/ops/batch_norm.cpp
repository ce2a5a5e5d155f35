// batch_norm over the last (channel) axis, Keras's BatchNormalization(axis=-1).
// The input is viewed as [rows, C]. Statistics are accumulated in double with fixed chunking, so a float32
// run is both accurate and bit-identical for any thread count. With BatchParts (autograd/batch_parts.h) the
// statistics, and the two sums dx needs in backward, are the whole batch's across replicas (SyncBatchNorm).
#include <algorithm>
#include <cmath>
#include <optional>
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

// Per channel: the rows' mean and sum of squared deviations from it (two passes: the second stays accurate when the
// mean is large compared with the spread).
void batch_moments(const Tensor& x, int64_t rows, int64_t c, std::vector<double>& mean, std::vector<double>& m2) {
  mean.assign(static_cast<size_t>(c), 0.0);
  m2.assign(static_cast<size_t>(c), 0.0);
  dispatch(x.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    kernels::chunked_sums(rows, c, mean.data(), [px, c](int64_t r, double* acc) {
      const T* row = px + r * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) acc[j] += static_cast<double>(row[j]);
    });
    for (double& m : mean) m /= static_cast<double>(rows);
    const double* pm = mean.data();
    kernels::chunked_sums(rows, c, m2.data(), [px, pm, c](int64_t r, double* acc) {
      const T* row = px + r * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) {
        const double d = static_cast<double>(row[j]) - pm[j];
        acc[j] += d * d;
      }
    });
  });
}

void check_parts(const BatchParts& parts, const Shape& x_shape) {
  if (parts.local_parts() < 1 || parts.bounds.front() != 0 || parts.bounds.back() != x_shape[0] ||
      !std::is_sorted(parts.bounds.begin(), parts.bounds.end()) || parts.first < 0 ||
      parts.first + parts.local_parts() > parts.count)
    throw std::invalid_argument("batch_norm: the batch parts (" + std::to_string(parts.local_parts()) +
                                " from part " + std::to_string(parts.first) + " of " + std::to_string(parts.count) +
                                ", ending at sample " + std::to_string(parts.bounds.back()) +
                                ") do not cover the input " + shape_str(x_shape) + " along its first axis");
}

// The rows of the whole batch whose parts `parts` describes, and their mean and biased variance per channel: each
// part's moments in a table row [rows, mean[c], m2[c]], the table summed over the replicas, the rows combined in
// part order with Chan, Golub and LeVeque's pairwise update (exact moments, no E[x^2] - E[x]^2 cancellation).
// One part alone gives the bits of the whole-batch path.
double whole_batch_moments(const Tensor& x, int64_t rows, int64_t c, const BatchParts& parts,
                           std::vector<double>& mean, std::vector<double>& var) {
  const int64_t per_sample = rows / x.dim(0), width = 2 * c + 1;
  std::vector<double> table(static_cast<size_t>(parts.count * width), 0.0), part_mean, part_m2;
  for (int64_t l = 0; l < parts.local_parts(); ++l) {
    const int64_t b = parts.bounds[l], e = parts.bounds[l + 1];
    if (e == b) continue;  // an empty part (a last batch smaller than the part count) adds nothing
    double* row = table.data() + (parts.first + l) * width;
    row[0] = static_cast<double>((e - b) * per_sample);
    batch_moments(x.slice(b, e), (e - b) * per_sample, c, part_mean, part_m2);
    std::copy(part_mean.begin(), part_mean.end(), row + 1);
    std::copy(part_m2.begin(), part_m2.end(), row + 1 + c);
  }
  if (parts.replicas) parts.replicas->sum(table);
  double n = 0.0;
  mean.assign(static_cast<size_t>(c), 0.0);
  std::vector<double> m2(static_cast<size_t>(c), 0.0);
  for (int64_t p = 0; p < parts.count; ++p) {
    const double* row = table.data() + p * width;
    const double np = row[0];
    if (np == 0.0) continue;
    if (n == 0.0) {
      std::copy(row + 1, row + 1 + c, mean.begin());
      std::copy(row + 1 + c, row + 1 + 2 * c, m2.begin());
      n = np;
      continue;
    }
    const double total = n + np;
    for (int64_t j = 0; j < c; ++j) {
      const double delta = row[1 + j] - mean[j];
      mean[j] += delta * (np / total);
      m2[j] += row[1 + c + j] + delta * delta * (n * np / total);
    }
    n = total;
  }
  var.resize(static_cast<size_t>(c));
  for (int64_t j = 0; j < c; ++j) var[j] = m2[j] / n;
  return n;
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

// grad_sums per part of `parts`: this replica's sums (the gradients of gamma and beta, which the trainer sums over
// the replicas with the other weights') and, when `whole` is set, the whole batch's (for dx), from a table of
// [sum(g)[c], sum(g * xhat)[c]] per part summed over the replicas and added in part order.
void part_grad_sums(const Tensor& g, const Tensor& x, int64_t rows, int64_t c, const std::vector<double>& mean,
                    const std::vector<double>& inv_std, const BatchParts& parts, bool whole, std::vector<double>& sum_g,
                    std::vector<double>& sum_gxhat, std::vector<double>& whole_g, std::vector<double>& whole_gxhat) {
  const int64_t per_sample = rows / x.dim(0), width = 2 * c;
  std::vector<double> table(static_cast<size_t>(parts.count * width), 0.0), part_g, part_gxhat;
  sum_g.assign(static_cast<size_t>(c), 0.0);
  sum_gxhat.assign(static_cast<size_t>(c), 0.0);
  for (int64_t l = 0; l < parts.local_parts(); ++l) {
    const int64_t b = parts.bounds[l], e = parts.bounds[l + 1];
    if (e == b) continue;
    grad_sums(g.slice(b, e), x.slice(b, e), (e - b) * per_sample, c, mean, inv_std, part_g, part_gxhat);
    double* row = table.data() + (parts.first + l) * width;
    for (int64_t j = 0; j < c; ++j) {
      row[j] = part_g[j];
      row[c + j] = part_gxhat[j];
      sum_g[j] += part_g[j];
      sum_gxhat[j] += part_gxhat[j];
    }
  }
  if (!whole) return;
  if (parts.replicas) parts.replicas->sum(table);
  whole_g.assign(static_cast<size_t>(c), 0.0);
  whole_gxhat.assign(static_cast<size_t>(c), 0.0);
  for (int64_t p = 0; p < parts.count; ++p)
    for (int64_t j = 0; j < c; ++j) {
      whole_g[j] += table[p * width + j];
      whole_gxhat[j] += table[p * width + c + j];
    }
}

}  // namespace

Variable batch_norm(const Variable& x, const Variable& gamma, const Variable& beta, Tensor& moving_mean,
                    Tensor& moving_variance, bool training, const BatchNormOptions& options, const BatchParts* parts) {
  check_inputs(x, gamma, beta, moving_mean, moving_variance);
  if (!training) parts = nullptr;  // the moving statistics are the same on every replica
  if (parts) check_parts(*parts, x.shape());
  const int64_t c = x.dim(-1), rows = x.numel() / std::max<int64_t>(c, 1);
  if (training && rows == 0)
    throw std::invalid_argument("batch_norm: training needs at least one row to take statistics from, got shape " +
                                shape_str(x.shape()));

  std::vector<double> mean, var;
  double n = static_cast<double>(rows);  // rows of the whole batch: this replica's alone without parts
  if (parts) {
    n = whole_batch_moments(x.value(), rows, c, *parts, mean, var);
  } else if (training) {
    batch_moments(x.value(), rows, c, mean, var);
    for (double& v : var) v /= n;
  }
  if (training) {
    // moving = moving * momentum + batch * (1 - momentum). tf.keras feeds the Bessel-corrected variance; a
    // single row has no spread to correct, so n - 1 is floored at 1 there (as TensorFlow's fused kernel does).
    const double bessel = options.unbiased_moving_variance ? n / std::max(n - 1.0, 1.0) : 1.0;
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

  // The parts are copied: the backward pass may outlive the caller's BatchParts (the replicas' sum must not).
  std::optional<BatchParts> split;
  if (parts) split = *parts;
  return record("batch_norm", std::move(y), {&x, &gamma, &beta},
                [x, gamma, beta, rows, n, c, training, mean, inv_std, g_vals, split](const Tensor& g) {
    const bool want_x = x.requires_grad();
    const bool want_gamma = gamma.defined() && gamma.requires_grad();
    const bool want_beta = beta.defined() && beta.requires_grad();
    // In training the statistics depend on x, which adds the two mean terms to dx:
    //   dx = gamma * inv_std * (g - mean(g) - xhat * mean(g * xhat)).
    // In inference they are constants and dx = gamma * inv_std * g.
    const bool need_sums = want_gamma || want_beta || (want_x && training);
    std::vector<double> sum_g, sum_gxhat, whole_g, whole_gxhat;
    if (need_sums && split)
      part_grad_sums(g, x.value(), rows, c, mean, inv_std, *split, want_x, sum_g, sum_gxhat, whole_g, whole_gxhat);
    else if (need_sums)
      grad_sums(g, x.value(), rows, c, mean, inv_std, sum_g, sum_gxhat);
    if (want_gamma) gamma.node()->accumulate_grad(channel_tensor(sum_gxhat, g.dtype()));
    if (want_beta) beta.node()->accumulate_grad(channel_tensor(sum_g, g.dtype()));
    if (!want_x) return;
    if (!split) {
      whole_g = sum_g;
      whole_gxhat = sum_gxhat;
    }

    // dx = k * (g - a) - (x - mean) * b per channel.
    std::vector<double> k(static_cast<size_t>(c)), a(static_cast<size_t>(c), 0.0), b(static_cast<size_t>(c), 0.0);
    for (int64_t j = 0; j < c; ++j) {
      k[j] = g_vals[j] * inv_std[j];
      if (training) {
        a[j] = whole_g[j] / n;
        b[j] = k[j] * inv_std[j] * whole_gxhat[j] / n;
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
