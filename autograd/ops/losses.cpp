// Losses, each one fused op: a single pass over the prediction computes every pixel's loss and, when a gradient
// is wanted, its derivative; backward only scales that derivative by the upstream gradient. The prediction is
// viewed as [rows, C] (a row is a pixel, C its classes); the loss is a mean over rows (pixels and batch).
//
// Rows go in blocks of kBlockRows: the exps and logs of a block are one vector loop each (autograd/kernels/
// vector_math.h: float32 exp, log and log1p that vectorise; float64 uses std::'s). The rest of the per-pixel
// arithmetic is done in double, and each log is taken of a quantity that keeps a small loss accurate (log1p of the
// other classes' share rather than log of a sum near 1). Keras's clipping bounds are taken in the prediction's
// dtype, so a float32 prediction is clipped exactly where Keras clips it. Sums use fixed chunks of whole blocks:
// bit-identical for any thread count (and, the file being compiled without FMA contraction, for any build).
#include <algorithm>
#include <cmath>
#include <sstream>

#include "autograd/kernels/deterministic_sums.h"
#include "autograd/kernels/vector_math.h"
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

// Rows are visited in blocks of this many, each block's exps and logs one vector loop.
constexpr int64_t kBlockRows = 256;

// Sums what every block of rows [r0, r1) reports into {loss, counted rows}, then finishes with the mean over
// counted rows (0 when every row is ignored, as Keras's divide_no_nan gives). The chunks of the sum are made of
// whole blocks, so the order of additions depends on the shape only.
template <class F>
Variable mean_of_blocks(const char* op, const Variable& pred, int64_t rows, int64_t c, Tensor grad, F&& block) {
  double sums[2];
  const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows;
  kernels::chunked_sums(
      blocks, 2, sums, [&](int64_t b, double* acc) { block(b * kBlockRows, std::min(rows, (b + 1) * kBlockRows), acc); },
      kBlockRows * c);
  const double scale = sums[1] > 0 ? 1.0 / sums[1] : 0.0;
  return finish(op, pred, sums[0] * scale, std::move(grad), scale);
}

// Per row of a block of logits: its largest entry, the sum of exp(x - max), that sum less the largest entry's 1
// (kept apart: 1 - softmax of a confident class is this small number, which 1 - e / sum would round away) and
// the log of the sum.
template <class T>
struct SoftmaxRows {
  T max[kBlockRows];
  double sum[kBlockRows];
  double rest[kBlockRows];
  T log_sum[kBlockRows];
};

// Calls f.template operator()<C>() with C = c for the usual small class counts, so that the loops over a row's
// classes unroll and the per-row work goes without branches, and with C = 0 (any count, read at run time) otherwise.
template <class F>
decltype(auto) with_class_count(int64_t c, F&& f) {
  switch (c) {
    case 1: return f.template operator()<1>();
    case 2: return f.template operator()<2>();
    case 3: return f.template operator()<3>();
    case 4: return f.template operator()<4>();
    default: return f.template operator()<0>();
  }
}

// For rows [r0, r1) of the logits x ([rows, c]): e[r * c + j] = exp(x_rj - max_r) for the block's entries of e (a
// [rows, c] buffer), and per row (index r - r0) the max, sum and log(sum) in `rows_out`. The largest entry adds
// exp(0) = 1 exactly, so log(sum) = log1p(sum of the others): accurate when the row is
// confident, where the loss lse - x_k of a well-classified pixel is that small number.
template <int C, class T>
void softmax_rows_of(const T* x, int64_t r0, int64_t r1, int64_t runtime_c, T* e, SoftmaxRows<T>& rows_out) {
  const int64_t c = C > 0 ? C : runtime_c;
  const int64_t n = r1 - r0;
  const T* xb = x + r0 * c;
  T* eb = e + r0 * c;
  for (int64_t r = 0; r < n; ++r) {
    T m = xb[r * c];
    for (int64_t j = 1; j < c; ++j) m = std::max(m, xb[r * c + j]);
    rows_out.max[r] = m;
    for (int64_t j = 0; j < c; ++j) eb[r * c + j] = xb[r * c + j] - m;  // 0 exactly where x is the max
  }
#pragma omp simd
  for (int64_t i = 0; i < n * c; ++i) eb[i] = vm::exp(eb[i]);
  T others[kBlockRows];
  for (int64_t r = 0; r < n; ++r) {
    // The sum less the max's 1, with the exps that are exactly 1 (the max, ties, entries within rounding of it)
    // counted apart, so that the small ones keep every digit.
    double rest = 0.0, ones = 0.0;
    for (int64_t j = 0; j < c; ++j) {
      const T v = eb[r * c + j];
      rest += v == T(1) ? 0.0 : static_cast<double>(v);
      ones += v == T(1) ? 1.0 : 0.0;
    }
    rest += ones - 1.0;
    rows_out.sum[r] = 1.0 + rest;
    rows_out.rest[r] = rest;
    others[r] = static_cast<T>(rest);
  }
#pragma omp simd
  for (int64_t r = 0; r < n; ++r) rows_out.log_sum[r] = vm::log1p(others[r]);
}

template <class T>
void softmax_rows(const T* x, int64_t r0, int64_t r1, int64_t c, T* e, SoftmaxRows<T>& rows_out) {
  with_class_count(c, [&]<int C>() { softmax_rows_of<C>(x, r0, r1, c, e, rows_out); });
}

// The logistic function from e = exp(-|x|), which never overflows.
double sigmoid_from(double x, double e) { return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e); }

// A probability q in (0, 1] stored for log_of_encoded: q itself below 1/2, q - 1 (exact in double) from 1/2 on. The
// log of a q near 1 is a small loss, whose digits rounding q itself to float would lose; log1p(q - 1) keeps them.
double encode_probability(double q) { return q < 0.5 ? q : q - 1.0; }

// v[i] = log(q) for the encoded probabilities v[0, n), in one vector loop (both logs computed, one kept).
template <class T>
void log_of_encoded(T* v, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) v[i] = v[i] > T(0) ? vm::log(v[i]) : vm::log1p(v[i]);
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
  // The exps (from logits) or the logs (from probabilities) of a block go into the gradient's memory, or here.
  Tensor scratch = grad.defined() ? grad : Tensor::empty(pred.shape(), pred.dtype());
  return dispatch(pred.dtype(), [&]<class T>() {
    const T* px = pred.value().data<T>();
    const T* py = t.data<T>();
    T* pg = grad.defined() ? grad.data<T>() : nullptr;
    T* pe = scratch.data<T>();
    return mean_of_blocks(op, pred, rows, c, grad, [&](int64_t r0, int64_t r1, double* acc) {
      SoftmaxRows<T> soft;
      if (o.from_logits) {
        softmax_rows(px, r0, r1, c, pe, soft);
      } else {
        // Keras: q = p / sum(p), clipped, loss = -sum(y * log q): the block's log q into pe.
        for (int64_t r = r0; r < r1; ++r) {
          const T* x = px + r * c;
          double s = 0.0;
          for (int64_t j = 0; j < c; ++j) s += static_cast<double>(x[j]);
          for (int64_t j = 0; j < c; ++j)
            pe[r * c + j] = static_cast<T>(encode_probability(Clip<T>::apply(static_cast<double>(x[j]) / s)));
        }
        log_of_encoded(pe + r0 * c, (r1 - r0) * c);
      }
      for (int64_t r = r0; r < r1; ++r) {
        const T* x = px + r * c;
        const T* y = py + r * c;
        const T* e = pe + r * c;  // the exps (from logits) or log q (from probabilities)
        T* gr = pg ? pg + r * c : nullptr;
        if (skip_empty && all_zero(y, c)) {
          if (gr) std::fill(gr, gr + c, T(0));
          continue;
        }
        const double wr = pw ? pw[r] : w[static_cast<size_t>(arg_max(y, c))];
        double loss = 0.0;
        if (o.from_logits) {
          // -sum(y * log_softmax(x)) with log_softmax(x)_j = -(max - x_j) - log(sum); d/dx = softmax * sum(y) - y
          // = ((e_j sum(y) - y_j) - y_j rest) / sum with sum = 1 + rest: exact where a one-hot row's class is its
          // largest logit (e_j = 1), where e_j / sum - 1 would cancel.
          const int64_t i = r - r0;
          const double m = static_cast<double>(soft.max[i]), log_sum = static_cast<double>(soft.log_sum[i]);
          double ysum = 0.0;
          for (int64_t j = 0; j < c; ++j) {
            ysum += static_cast<double>(y[j]);
            loss += static_cast<double>(y[j]) * ((m - static_cast<double>(x[j])) + log_sum);
          }
          if (gr) {
            const double scale = wr / soft.sum[i], rest = soft.rest[i];
            for (int64_t j = 0; j < c; ++j) {
              const double yj = static_cast<double>(y[j]);
              gr[j] = static_cast<T>(((static_cast<double>(e[j]) * ysum - yj) - yj * rest) * scale);
            }
          }
        } else {
          // Through the renormalisation, d/dp_j = (G_j - sum_k G_k q_k) / sum(p) with G = d loss / d q.
          double s = 0.0;
          for (int64_t j = 0; j < c; ++j) s += static_cast<double>(x[j]);
          double dot = 0.0;
          for (int64_t j = 0; j < c; ++j) {
            const double q = static_cast<double>(x[j]) / s;
            loss -= static_cast<double>(y[j]) * static_cast<double>(e[j]);
            if (Clip<T>::inside(q)) dot -= static_cast<double>(y[j]) / Clip<T>::apply(q) * q;
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
      }
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
  // The exps of a block go into the gradient's memory, or here.
  Tensor scratch = grad.defined() || !o.from_logits ? grad : Tensor::empty(pred.shape(), pred.dtype());
  return dispatch(pred.dtype(), [&]<class T>() {
    const T* px = pred.value().data<T>();
    T* pg = grad.defined() ? grad.data<T>() : nullptr;
    T* pe = scratch.defined() ? scratch.data<T>() : nullptr;
    return mean_of_blocks(op, pred, rows, c, grad, [&](int64_t r0, int64_t r1, double* acc) {
      if (o.from_logits) {
        // lse - x_k = (max - x_k) + log(sum); d/dx = softmax - onehot(k), the softmax from the exps, and at k
        // -(sum - e_k) / sum = -((1 - e_k) + rest) / sum, exact for a confident pixel (e_k = 1).
        SoftmaxRows<T> soft;
        with_class_count(c, [&]<int C>() {
          const int64_t cc = C > 0 ? C : c;
          softmax_rows_of<C>(px, r0, r1, c, pe, soft);
          for (int64_t r = r0; r < r1; ++r) {
            const int32_t k = ids[static_cast<size_t>(r)];
            T* gr = pg ? pg + r * cc : nullptr;
            if (k < 0) {
              if (gr) std::fill(gr, gr + cc, T(0));
              continue;
            }
            const int64_t i = r - r0;
            const double wr = pw ? pw[r] : w[static_cast<size_t>(k)];
            const double loss = (static_cast<double>(soft.max[i]) - static_cast<double>(px[r * cc + k])) +
                                static_cast<double>(soft.log_sum[i]);
            if (gr) {
              const double scale = wr / soft.sum[i], rest = soft.rest[i];
              for (int64_t j = 0; j < cc; ++j) {
                const double ej = static_cast<double>(gr[j]);
                gr[j] = static_cast<T>((j == k ? -((1.0 - ej) + rest) : ej) * scale);
              }
            }
            acc[0] += wr * loss;
            acc[1] += 1.0;
          }
        });
        return;
      }
      // Keras clips p, takes its log and feeds that to a softmax cross-entropy: with s = sum of the clipped p,
      // loss = log s - log p_k = log1p(others / p_k), others = s - p_k, so d/dp_j = 1 / s - [j == k] / p_k where
      // p_j is within the clip bounds.
      T ratio[kBlockRows];
      for (int64_t r = r0; r < r1; ++r) {
        const int32_t k = ids[static_cast<size_t>(r)];
        double others = 0.0;
        for (int64_t j = 0; j < c; ++j)
          if (j != k) others += Clip<T>::apply(static_cast<double>(px[r * c + j]));
        ratio[r - r0] = k < 0 ? T(0) : static_cast<T>(others / Clip<T>::apply(static_cast<double>(px[r * c + k])));
      }
      const int64_t n = r1 - r0;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) ratio[i] = vm::log1p(ratio[i]);
      for (int64_t r = r0; r < r1; ++r) {
        const T* x = px + r * c;
        const int32_t k = ids[static_cast<size_t>(r)];
        T* gr = pg ? pg + r * c : nullptr;
        if (k < 0) {
          if (gr) std::fill(gr, gr + c, T(0));
          continue;
        }
        const double wr = pw ? pw[r] : w[static_cast<size_t>(k)];
        if (gr) {
          double s = 0.0;
          for (int64_t j = 0; j < c; ++j) s += Clip<T>::apply(static_cast<double>(x[j]));
          const double pk = Clip<T>::apply(static_cast<double>(x[k]));
          for (int64_t j = 0; j < c; ++j) {
            const double d = 1.0 / s - (j == k ? 1.0 / pk : 0.0);
            gr[j] = static_cast<T>(Clip<T>::inside(static_cast<double>(x[j])) ? wr * d : 0.0);
          }
        }
        acc[0] += wr * static_cast<double>(ratio[r - r0]);
        acc[1] += 1.0;
      }
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
    return mean_of_blocks(op, pred, pred.numel(), 1, grad, [&](int64_t i0, int64_t i1, double* acc) {
      const int64_t n = i1 - i0;
      // From logits: e = exp(-|x|) and log1p(e). From probabilities (tf.keras: clip, then
      // -(y log(p + eps) + (1 - y) log(1 - p + eps)); Keras 3 drops the "+ eps"): the two logs.
      T a[kBlockRows], b[kBlockRows];
      if (o.from_logits) {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) a[i] = vm::exp(-std::fabs(px[i0 + i]));
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) b[i] = vm::log1p(a[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) {
          const double pc = Clip<T>::apply(static_cast<double>(px[i0 + i]));
          a[i] = static_cast<T>(encode_probability(pc + eps));
          b[i] = static_cast<T>(encode_probability(1.0 - pc + eps));
        }
        log_of_encoded(a, n);
        log_of_encoded(b, n);
      }
      for (int64_t i = i0; i < i1; ++i) {
        const double x = static_cast<double>(px[i]), y = static_cast<double>(py[i]);
        if (skip && y == ignored) {
          if (pg) pg[i] = T(0);
          continue;
        }
        // The true class is round(y), half to even, as Keras's class_weight does for a single output.
        const double wr = pw ? pw[i / channels] : w[std::nearbyint(y) >= 1.0 ? 1 : 0];
        const double ai = static_cast<double>(a[i - i0]), bi = static_cast<double>(b[i - i0]);
        double loss, d;
        if (o.from_logits) {
          loss = std::max(x, 0.0) - x * y + bi;
          // sigmoid(x) - y, with sigmoid(x) = 1 - e / (1 + e) for x >= 0 written so that y = 1 does not cancel.
          d = x >= 0 ? (1.0 - y) - ai / (1.0 + ai) : ai / (1.0 + ai) - y;
        } else {
          const double pc = Clip<T>::apply(x);
          loss = -(y * ai + (1.0 - y) * bi);
          d = Clip<T>::inside(x) ? -(y / (pc + eps) - (1.0 - y) / (1.0 - pc + eps)) : 0.0;
        }
        if (pg) pg[i] = static_cast<T>(wr * d);
        acc[0] += wr * loss;
        acc[1] += 1.0;
      }
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
      const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows;
#pragma omp parallel for schedule(static) if (rows * c > kParallelThreshold)
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t r0 = b * kBlockRows, r1 = std::min(rows, r0 + kBlockRows);
        if (c == 1) {
          T e[kBlockRows];
#pragma omp simd
          for (int64_t r = r0; r < r1; ++r) e[r - r0] = vm::exp(-std::fabs(px[r]));
          for (int64_t r = r0; r < r1; ++r)
            pp[r] = static_cast<T>(sigmoid_from(static_cast<double>(px[r]), static_cast<double>(e[r - r0])));
          continue;
        }
        SoftmaxRows<T> soft;
        softmax_rows(px, r0, r1, c, pp, soft);
        for (int64_t r = r0; r < r1; ++r) {
          const double inv_sum = 1.0 / soft.sum[r - r0];
          for (int64_t j = 0; j < c; ++j) pp[r * c + j] = static_cast<T>(static_cast<double>(pp[r * c + j]) * inv_sum);
        }
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
    return mean_of_blocks(op, pred, pred.numel(), 1, grad, [&](int64_t i0, int64_t i1, double* acc) {
      for (int64_t i = i0; i < i1; ++i) {
        const auto [l, d] = loss(static_cast<double>(px[i]) - static_cast<double>(py[i]));
        if (pg) pg[i] = static_cast<T>(d);
        acc[0] += l;
      }
      acc[1] += static_cast<double>(i1 - i0);
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
