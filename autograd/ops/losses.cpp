// Losses, each one fused op: a single pass over the prediction computes every pixel's loss and, when a gradient
// is wanted, its derivative; backward only scales that derivative by the upstream gradient. The prediction is
// viewed as [rows, C] (a row is a pixel, C its classes); the loss is a mean over rows (pixels and batch).
//
// Per-pixel arithmetic is done in double (the cost is one pass over the output, small next to any convolution);
// Keras's clipping bounds are taken in the prediction's dtype, so a float32 prediction is clipped exactly where
// Keras clips it. Sums use fixed chunking: bit-identical for any thread count.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "autograd/kernels/deterministic_sums.h"
#include "autograd/kernels/softmax_row.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace tg {

namespace {

// ---- validation ---------------------------------------------------------------------------------------------

std::string number_str(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void check_pred(const char* op, const Variable& pred) {
  if (!pred.defined()) throw std::invalid_argument(std::string(op) + ": the prediction is undefined");
  if (pred.rank() == 0 || pred.numel() == 0)
    throw std::invalid_argument(std::string(op) + ": the prediction of shape " + shape_str(pred.shape()) +
                                " needs a last (class) axis and at least one element");
}

// The target in the prediction's dtype (a view when it already is).
Tensor same_shape_target(const char* op, const Variable& pred, const Tensor& target, const char* hint) {
  if (!target.defined()) throw std::invalid_argument(std::string(op) + ": the target is undefined");
  if (target.shape() != pred.shape())
    throw std::invalid_argument(std::string(op) + ": target shape " + shape_str(target.shape()) +
                                " does not match the prediction's shape " + shape_str(pred.shape()) + hint);
  return target.to(pred.dtype());
}

std::vector<double> class_weights(const char* op, const LossOptions& o, int64_t expected, const char* what) {
  if (o.class_weights.empty()) return std::vector<double>(static_cast<size_t>(expected), 1.0);
  if (static_cast<int64_t>(o.class_weights.size()) != expected)
    throw std::invalid_argument(std::string(op) + ": " + std::to_string(o.class_weights.size()) +
                                " class weights given, but it needs " + std::to_string(expected) + " (" + what + ")");
  for (size_t k = 0; k < o.class_weights.size(); ++k)
    if (!std::isfinite(o.class_weights[k]) || o.class_weights[k] < 0)
      throw std::invalid_argument(std::string(op) + ": class weight " + number_str(o.class_weights[k]) +
                                  " for class " + std::to_string(k) + " must be finite and >= 0");
  return o.class_weights;
}

bool ignoring(const LossOptions& o) { return o.ignore_index >= 0; }

// LossOptions::pixel_weights as float64, one per row of `rows` rows (the prediction's pixels), checked; or an
// undefined tensor when there are none.
Tensor pixel_weights(const char* op, const LossOptions& o, const Variable& pred, int64_t rows) {
  if (!o.pixel_weights.defined()) return Tensor();
  Shape want = pred.shape();
  want.pop_back();
  if (o.pixel_weights.numel() != rows || (o.pixel_weights.shape() != want && o.pixel_weights.shape() != pred.shape()))
    throw std::invalid_argument(std::string(op) + ": pixel weights of shape " + shape_str(o.pixel_weights.shape()) +
                                " given for a prediction of shape " + shape_str(pred.shape()) + "; they need " +
                                shape_str(want));
  Tensor w = o.pixel_weights.to(DType::F64);
  const double* p = w.data<double>();
  for (int64_t i = 0; i < rows; ++i)
    if (!std::isfinite(p[i]) || p[i] < 0)
      throw std::invalid_argument(std::string(op) + ": pixel weight " + number_str(p[i]) + " at index " +
                                  index_str(i, o.pixel_weights.shape()) + " must be finite and >= 0");
  return w;
}

// ---- shared pieces --------------------------------------------------------------------------------------------

// Keras clips probabilities to [epsilon, 1 - epsilon] with epsilon = 1e-7 in the tensor's dtype.
template <class T>
struct Clip {
  static constexpr double lo = static_cast<double>(static_cast<T>(1e-7));
  static constexpr double hi = static_cast<double>(static_cast<T>(T(1) - static_cast<T>(1e-7)));
  static double apply(double p) { return std::min(std::max(p, lo), hi); }
  // clip_by_value passes the gradient where the input is within the bounds (inclusive), as TF and torch do.
  static bool inside(double p) { return p >= lo && p <= hi; }
};

bool wants_grad(const Variable& pred) { return pred.requires_grad() && grad_enabled(); }

// The scalar loss value. The backward pass scales the derivative computed in the forward pass by the upstream
// gradient times `scale` (1 / number of counted pixels) and hands it over without a copy.
Variable finish(const char* op, const Variable& pred, double value, Tensor grad, double scale) {
  Tensor y(Shape{}, pred.dtype());
  y.set_flat(0, value);
  return record(op, std::move(y), {&pred}, [pred, grad, scale](const Tensor& g) mutable {
    const double s = g.item() * scale;
    dispatch(grad.dtype(), [&]<class T>() {
      T* p = grad.data<T>();
      const T st = static_cast<T>(s);
      const int64_t n = grad.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelThreshold)
      for (int64_t i = 0; i < n; ++i) p[i] *= st;
    });
    pred.node()->accumulate_grad(std::move(grad));
  });
}

// Sums what every row reports into {loss, counted rows}, then finishes with the mean over counted rows (0 when
// every row is ignored, as Keras's divide_no_nan gives).
template <class F>
Variable mean_of_rows(const char* op, const Variable& pred, int64_t rows, int64_t c, Tensor grad, F&& row) {
  double sums[2];
  kernels::chunked_sums(rows, 2, sums, row, c);
  const double scale = sums[1] > 0 ? 1.0 / sums[1] : 0.0;
  return finish(op, pred, sums[0] * scale, std::move(grad), scale);
}

double log_sum_exp(const auto* x, int64_t c) { return kernels::row_exp_sum<double>(x, c).log_sum_exp(); }

// One pass of c exps for a row of logits: sets `lse` to its log-sum-exp (as log_sum_exp computes it) and, when
// `out` is given, writes exp(x - max) there for the softmax; returns the sum of those exps.
template <class T>
double exps_into(const T* x, int64_t c, T* out, double& lse) {
  double m = static_cast<double>(x[0]);
  for (int64_t j = 1; j < c; ++j) m = std::max(m, static_cast<double>(x[j]));
  double sum = 0.0;
  for (int64_t j = 0; j < c; ++j) {
    const double e = std::exp(static_cast<double>(x[j]) - m);
    sum += e;
    if (out) out[j] = static_cast<T>(e);
  }
  lse = m + std::log(sum);
  return sum;
}

double sigmoid_of(double x) {
  const double e = std::exp(-std::fabs(x));
  return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

// Read into plain variables, not a structured binding: the lambdas below capture them, which Clang 14 (the fuzzing
// build's compiler, scripts/fuzz.sh) does not allow for bindings.
struct RowsView {
  int64_t rows, c;
};
RowsView rows_of(const Variable& pred) {
  const int64_t c = pred.dim(-1);
  return {pred.numel() / c, c};
}

// Class ids from a label map, validated: whole numbers in [0, classes) or ignore_index (stored as -1).
std::vector<int32_t> class_ids(const char* op, const Tensor& labels, const Variable& pred, const LossOptions& o) {
  if (!labels.defined()) throw std::invalid_argument(std::string(op) + ": the labels are undefined");
  Shape expected(pred.shape().begin(), pred.shape().end() - 1), with_one = expected;
  with_one.push_back(1);
  if (labels.shape() != expected && labels.shape() != with_one)
    throw std::invalid_argument(std::string(op) + ": labels of shape " + shape_str(labels.shape()) +
                                " do not fit a prediction of shape " + shape_str(pred.shape()) + "; they must be " +
                                shape_str(expected) + " (the prediction's shape without its class axis) or " +
                                shape_str(with_one) + " (for one-hot targets use categorical_crossentropy)");
  const int64_t classes = pred.dim(-1);
  std::vector<int32_t> ids(static_cast<size_t>(labels.numel()));
  dispatch(labels.dtype(), [&]<class T>() {
    const T* p = labels.data<T>();
    for (int64_t i = 0; i < labels.numel(); ++i) {
      const double v = static_cast<double>(p[i]);
      if (ignoring(o) && v == o.ignore_index) {
        ids[i] = -1;
        continue;
      }
      if (v != std::floor(v) || v < 0 || v >= static_cast<double>(classes))
        throw std::invalid_argument(std::string(op) + ": label " + number_str(v) + " at index " +
                                    index_str(i, labels.shape()) + " is not a class id in [0, " +
                                    std::to_string(classes) + ") (the prediction has " + std::to_string(classes) +
                                    " classes on its last axis)" +
                                    (ignoring(o) ? " nor ignore_index " + std::to_string(o.ignore_index)
                                                 : "; set ignore_index to exclude void pixels"));
      ids[i] = static_cast<int32_t>(v);
    }
  });
  return ids;
}

// Index of the first largest entry: the true class of a one-hot row (how Keras maps class weights).
template <class T>
int64_t arg_max(const T* y, int64_t c) {
  int64_t best = 0;
  for (int64_t j = 1; j < c; ++j)
    if (y[j] > y[best]) best = j;
  return best;
}

template <class T>
bool all_zero(const T* y, int64_t c) {
  for (int64_t j = 0; j < c; ++j)
    if (y[j] != T(0)) return false;
  return true;
}

}  // namespace

// ---- categorical cross-entropy (one-hot or soft targets) -----------------------------------------------------

Variable categorical_crossentropy(const Variable& pred, const Tensor& target, const LossOptions& o) {
  const char* op = "categorical_crossentropy";
  check_pred(op, pred);
  const Tensor t = same_shape_target(op, pred, target,
                                     " (targets are one-hot with the prediction's shape; for class-id maps use "
                                     "sparse_categorical_crossentropy)");
  const RowsView view = rows_of(pred);
  const int64_t rows = view.rows, c = view.c;
  const std::vector<double> w = class_weights(op, o, c, "one per class on the last axis");
  const Tensor pixel_w = pixel_weights(op, o, pred, rows);
  const double* pw = pixel_w.defined() ? pixel_w.data<double>() : nullptr;
  const bool skip_empty = ignoring(o);
  Tensor grad = wants_grad(pred) ? Tensor::empty(pred.shape(), pred.dtype()) : Tensor();  // written in full
  return dispatch(pred.dtype(), [&]<class T>() {
    const T* px = pred.value().data<T>();
    const T* py = t.data<T>();
    T* pg = grad.defined() ? grad.data<T>() : nullptr;
    return mean_of_rows(op, pred, rows, c, grad, [&](int64_t r, double* acc) {
      const T* x = px + r * c;
      const T* y = py + r * c;
      T* gr = pg ? pg + r * c : nullptr;
      if (skip_empty && all_zero(y, c)) {
        if (gr) std::fill(gr, gr + c, T(0));
        return;
      }
      const double wr = pw ? pw[r] : w[static_cast<size_t>(arg_max(y, c))];
      double loss = 0.0;
      if (o.from_logits) {
        // -sum(y * log_softmax(x)) = lse * sum(y) - sum(y * x); d/dx = softmax * sum(y) - y, the softmax from the
        // exps the log-sum-exp takes.
        double lse = 0.0;
        const double inv_sum = 1.0 / exps_into(x, c, gr, lse);
        double ysum = 0.0;
        for (int64_t j = 0; j < c; ++j) {
          ysum += static_cast<double>(y[j]);
          loss += static_cast<double>(y[j]) * (lse - static_cast<double>(x[j]));
        }
        if (gr)
          for (int64_t j = 0; j < c; ++j)
            gr[j] = static_cast<T>(wr * (static_cast<double>(gr[j]) * inv_sum * ysum - static_cast<double>(y[j])));
      } else {
        // Keras: q = p / sum(p), clipped, loss = -sum(y * log q). Through the renormalisation,
        // d/dp_j = (G_j - sum_k G_k q_k) / sum(p) with G = d loss / d q.
        double s = 0.0;
        for (int64_t j = 0; j < c; ++j) s += static_cast<double>(x[j]);
        double dot = 0.0;
        for (int64_t j = 0; j < c; ++j) {
          const double q = static_cast<double>(x[j]) / s, qc = Clip<T>::apply(q);
          loss -= static_cast<double>(y[j]) * std::log(qc);
          if (Clip<T>::inside(q)) dot -= static_cast<double>(y[j]) / qc * q;
        }
        if (gr)
          for (int64_t j = 0; j < c; ++j) {
            const double q = static_cast<double>(x[j]) / s;
            const double gj = Clip<T>::inside(q) ? -static_cast<double>(y[j]) / Clip<T>::apply(q) : 0.0;
            gr[j] = static_cast<T>(wr * (gj - dot) / s);
          }
      }
      acc[0] += wr * loss;
      acc[1] += 1.0;
    });
  });
}

// ---- sparse categorical cross-entropy (class-id maps) --------------------------------------------------------

Variable sparse_categorical_crossentropy(const Variable& pred, const Tensor& labels, const LossOptions& o) {
  const char* op = "sparse_categorical_crossentropy";
  check_pred(op, pred);
  const std::vector<int32_t> ids = class_ids(op, labels, pred, o);
  const RowsView view = rows_of(pred);
  const int64_t rows = view.rows, c = view.c;
  const std::vector<double> w = class_weights(op, o, c, "one per class on the last axis");
  const Tensor pixel_w = pixel_weights(op, o, pred, rows);
  const double* pw = pixel_w.defined() ? pixel_w.data<double>() : nullptr;
  Tensor grad = wants_grad(pred) ? Tensor::empty(pred.shape(), pred.dtype()) : Tensor();  // written in full
  return dispatch(pred.dtype(), [&]<class T>() {
    const T* px = pred.value().data<T>();
    T* pg = grad.defined() ? grad.data<T>() : nullptr;
    return mean_of_rows(op, pred, rows, c, grad, [&](int64_t r, double* acc) {
      const T* x = px + r * c;
      T* gr = pg ? pg + r * c : nullptr;
      const int32_t k = ids[static_cast<size_t>(r)];
      if (k < 0) {
        if (gr) std::fill(gr, gr + c, T(0));
        return;
      }
      const double wr = pw ? pw[r] : w[static_cast<size_t>(k)];
      double loss = 0.0;
      if (o.from_logits) {
        // lse - x_k; d/dx = softmax - onehot(k), the softmax from the exps the log-sum-exp takes.
        const double inv_sum = 1.0 / exps_into(x, c, gr, loss);
        loss -= static_cast<double>(x[k]);
        if (gr)
          for (int64_t j = 0; j < c; ++j)
            gr[j] = static_cast<T>(wr * (static_cast<double>(gr[j]) * inv_sum - (j == k ? 1.0 : 0.0)));
      } else {
        // Keras clips p, takes its log and feeds that to a softmax cross-entropy: with s = sum of the clipped
        // p, loss = log s - log p_k, so d/dp_j = 1 / s - [j == k] / p_k where p_j is within the clip bounds.
        double s = 0.0;
        for (int64_t j = 0; j < c; ++j) s += Clip<T>::apply(static_cast<double>(x[j]));
        const double pk = Clip<T>::apply(static_cast<double>(x[k]));
        loss = std::log(s) - std::log(pk);
        if (gr)
          for (int64_t j = 0; j < c; ++j) {
            const double d = 1.0 / s - (j == k ? 1.0 / pk : 0.0);
            gr[j] = static_cast<T>(Clip<T>::inside(static_cast<double>(x[j])) ? wr * d : 0.0);
          }
      }
      acc[0] += wr * loss;
      acc[1] += 1.0;
    });
  });
}

// ---- binary cross-entropy (every element an independent binary problem) -------------------------------------

Variable binary_crossentropy(const Variable& pred, const Tensor& target, const LossOptions& o) {
  const char* op = "binary_crossentropy";
  check_pred(op, pred);
  const Tensor t = same_shape_target(op, pred, target, "");
  const std::vector<double> w = class_weights(op, o, 2, "the weights of target 0 and target 1");
  const int64_t channels = pred.dim(-1);  // each pixel's weight applies to all of its channels
  const Tensor pixel_w = pixel_weights(op, o, pred, pred.numel() / channels);
  const double* pw = pixel_w.defined() ? pixel_w.data<double>() : nullptr;
  const bool skip = ignoring(o);
  const double ignored = o.ignore_index;
  dispatch(t.dtype(), [&]<class T>() {
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double v = static_cast<double>(p[i]);
      if (skip && v == ignored) continue;
      if (!(v >= 0.0 && v <= 1.0))
        throw std::invalid_argument(std::string(op) + ": target " + number_str(v) + " at index " +
                                    index_str(i, t.shape()) + " is outside [0, 1]; binary targets are " +
                                    "probabilities (a 0/255 mask needs scaling, or ignore_index for void pixels)");
    }
  });
  Tensor grad = wants_grad(pred) ? Tensor::empty(pred.shape(), pred.dtype()) : Tensor();  // written in full
  return dispatch(pred.dtype(), [&]<class T>() {
    const T* px = pred.value().data<T>();
    const T* py = t.data<T>();
    T* pg = grad.defined() ? grad.data<T>() : nullptr;
    constexpr double eps = static_cast<double>(static_cast<T>(1e-7));
    return mean_of_rows(op, pred, pred.numel(), 1, grad, [&](int64_t i, double* acc) {
      const double x = static_cast<double>(px[i]), y = static_cast<double>(py[i]);
      if (skip && y == ignored) {
        if (pg) pg[i] = T(0);
        return;
      }
      // The true class is round(y), half to even, as Keras's class_weight does for a single output.
      const double wr = pw ? pw[i / channels] : w[std::nearbyint(y) >= 1.0 ? 1 : 0];
      double loss, d;
      if (o.from_logits) {
        loss = std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::fabs(x)));
        d = sigmoid_of(x) - y;
      } else {
        // tf.keras: clip, then -(y log(p + eps) + (1 - y) log(1 - p + eps)). (Keras 3 drops the "+ eps".)
        const double pc = Clip<T>::apply(x);
        loss = -(y * std::log(pc + eps) + (1.0 - y) * std::log(1.0 - pc + eps));
        d = Clip<T>::inside(x) ? -(y / (pc + eps) - (1.0 - y) / (1.0 - pc + eps)) : 0.0;
      }
      if (pg) pg[i] = static_cast<T>(wr * d);
      acc[0] += wr * loss;
      acc[1] += 1.0;
    });
  });
}

// ---- soft Dice ------------------------------------------------------------------------------------------------

Variable dice_loss(const Variable& pred, const Tensor& target, const LossOptions& o, double smooth) {
  const char* op = "dice_loss";
  check_pred(op, pred);
  const Tensor t = same_shape_target(op, pred, target, " (targets are one-hot with the prediction's shape)");
  const RowsView view = rows_of(pred);
  const int64_t rows = view.rows, c = view.c;
  const std::vector<double> w = class_weights(op, o, c, "one per class on the last axis");
  double w_total = 0.0;
  for (double v : w) w_total += v;
  if (w_total <= 0) throw std::invalid_argument(std::string(op) + ": the class weights sum to 0");
  if (!(smooth >= 0)) throw std::invalid_argument(std::string(op) + ": smooth " + number_str(smooth) + " must be >= 0");
  if (o.pixel_weights.defined())
    throw std::invalid_argument(std::string(op) + ": soft Dice takes no pixel weights (a ratio of sums over the batch "
                                "has no per-pixel loss to weight); weight a crossentropy beside it instead");
  // A void pixel is an all-zero one-hot row, or for a single sigmoid channel a target equal to ignore_index.
  const bool skip = ignoring(o);
  const double ignored = o.ignore_index;

  return dispatch(pred.dtype(), [&]<class T>() {
    const T* px = pred.value().data<T>();
    const T* py = t.data<T>();
    auto is_void = [&](const T* y) { return skip && (c == 1 ? static_cast<double>(y[0]) == ignored : all_zero(y, c)); };

    // Probabilities: the prediction itself, or softmax / sigmoid of the logits.
    Tensor probs = o.from_logits ? Tensor::empty(pred.shape(), pred.dtype()) : pred.value();
    if (o.from_logits) {
      T* pp = probs.data<T>();
#pragma omp parallel for schedule(static) if (rows * c > kParallelThreshold)
      for (int64_t r = 0; r < rows; ++r) {
        const T* x = px + r * c;
        if (c == 1) {
          pp[r] = static_cast<T>(sigmoid_of(static_cast<double>(x[0])));
          continue;
        }
        const double lse = log_sum_exp(x, c);
        for (int64_t j = 0; j < c; ++j) pp[r * c + j] = static_cast<T>(std::exp(static_cast<double>(x[j]) - lse));
      }
    }
    const T* pp = probs.data<T>();

    // Per class: intersection sum(p y), sum(p), sum(y), over every counted pixel.
    std::vector<double> sums(static_cast<size_t>(3 * c));
    kernels::chunked_sums(rows, 3 * c, sums.data(), [&](int64_t r, double* acc) {
      const T* y = py + r * c;
      if (is_void(y)) return;
      const T* p = pp + r * c;
      for (int64_t j = 0; j < c; ++j) {
        const double pj = static_cast<double>(p[j]), yj = static_cast<double>(y[j]);
        acc[j] += pj * yj;
        acc[c + j] += pj;
        acc[2 * c + j] += yj;
      }
    }, c);
    // loss = 1 - sum_c w_c d_c / sum_c w_c with d_c = (2 I_c + s) / D_c, D_c = P_c + Y_c + s;
    // d loss / d p_ic = alpha_c * y_ic + beta_c with alpha_c = -2 w_c / (W D_c), beta_c = w_c d_c / (W D_c).
    std::vector<double> alpha(static_cast<size_t>(c)), beta(static_cast<size_t>(c));
    double score = 0.0;
    for (int64_t j = 0; j < c; ++j) {
      const double denom = sums[c + j] + sums[2 * c + j] + smooth;
      const double d = (2.0 * sums[j] + smooth) / denom;
      score += w[j] * d;
      alpha[j] = -2.0 * w[j] / (w_total * denom);
      beta[j] = w[j] * d / (w_total * denom);
    }
    const double value = 1.0 - score / w_total;

    Tensor grad = wants_grad(pred) ? Tensor::empty(pred.shape(), pred.dtype()) : Tensor();  // written in full
    if (grad.defined()) {
      T* pg = grad.data<T>();
      const bool logits = o.from_logits;
#pragma omp parallel for schedule(static) if (rows * c > kParallelThreshold)
      for (int64_t r = 0; r < rows; ++r) {
        const T* y = py + r * c;
        const T* p = pp + r * c;
        T* gr = pg + r * c;
        if (is_void(y)) {
          std::fill(gr, gr + c, T(0));
          continue;
        }
        if (!logits) {
          for (int64_t j = 0; j < c; ++j) gr[j] = static_cast<T>(alpha[j] * static_cast<double>(y[j]) + beta[j]);
        } else if (c == 1) {
          const double pj = static_cast<double>(p[0]);
          gr[0] = static_cast<T>((alpha[0] * static_cast<double>(y[0]) + beta[0]) * pj * (1.0 - pj));
        } else {
          // Through the softmax: dx_j = p_j (G_j - sum_k G_k p_k).
          double dot = 0.0;
          for (int64_t j = 0; j < c; ++j)
            dot += (alpha[j] * static_cast<double>(y[j]) + beta[j]) * static_cast<double>(p[j]);
          for (int64_t j = 0; j < c; ++j)
            gr[j] = static_cast<T>(static_cast<double>(p[j]) * (alpha[j] * static_cast<double>(y[j]) + beta[j] - dot));
        }
      }
    }
    return finish(op, pred, value, std::move(grad), 1.0);
  });
}

// ---- regression losses -----------------------------------------------------------------------------------------

namespace {
template <class Loss>
Variable elementwise_mean(const char* op, const Variable& pred, const Tensor& target, Loss loss) {
  check_pred(op, pred);
  const Tensor t = same_shape_target(op, pred, target, "");
  Tensor grad = wants_grad(pred) ? Tensor::empty(pred.shape(), pred.dtype()) : Tensor();  // written in full
  return dispatch(pred.dtype(), [&]<class T>() {
    const T* px = pred.value().data<T>();
    const T* py = t.data<T>();
    T* pg = grad.defined() ? grad.data<T>() : nullptr;
    return mean_of_rows(op, pred, pred.numel(), 1, grad, [&](int64_t i, double* acc) {
      const auto [l, d] = loss(static_cast<double>(px[i]) - static_cast<double>(py[i]));
      if (pg) pg[i] = static_cast<T>(d);
      acc[0] += l;
      acc[1] += 1.0;
    });
  });
}
}  // namespace

Variable mse(const Variable& pred, const Tensor& target) {
  return elementwise_mean("mse", pred, target, [](double e) { return std::pair{e * e, 2.0 * e}; });
}

Variable mae(const Variable& pred, const Tensor& target) {
  // The derivative of |e| at 0 is taken as 0, as TensorFlow's sign() gives.
  return elementwise_mean("mae", pred, target,
                          [](double e) { return std::pair{std::fabs(e), e > 0 ? 1.0 : (e < 0 ? -1.0 : 0.0)}; });
}

}  // namespace tg
