// Every differentiable op tapegrad has. Each is implemented in autograd/ops/<family>.cpp with its shape rule,
// forward and backward side by side, and gradient-checked in tests/autograd/<family>_test.cpp.
// Images are NHWC; convolution kernels HWIO (Keras's layout); Conv2DTranspose kernels (kh, kw, out, in).
#pragma once
#include <array>
#include <string>
#include <vector>

#include "autograd/batch_parts.h"
#include "autograd/random/rng.h"
#include "autograd/tape.h"
#include "autograd/variable.h"

namespace tg {

// ---- elementwise (ops/elementwise.cpp) --------------------------------------------------------------
// Binary ops broadcast when one operand's shape is a suffix of the other's (a per-channel [C] vector over
// NHWC, or [W, C] over NHWC) or has a single element.
Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable add(const Variable& a, double s);
Variable mul(const Variable& a, double s);
Variable neg(const Variable& a);
inline Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
inline Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
inline Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
inline Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
inline Variable operator+(const Variable& a, double s) { return add(a, s); }
inline Variable operator-(const Variable& a, double s) { return add(a, -s); }
inline Variable operator*(const Variable& a, double s) { return mul(a, s); }
inline Variable operator*(double s, const Variable& a) { return mul(a, s); }
inline Variable operator/(const Variable& a, double s) { return mul(a, 1.0 / s); }
inline Variable operator-(const Variable& a) { return neg(a); }

// ---- unary math and activations (ops/unary.cpp) ------------------------------------------------------
Variable exp(const Variable& x);
Variable log(const Variable& x);
Variable relu(const Variable& x);
Variable sigmoid(const Variable& x);
Variable tanh(const Variable& x);

// ---- softmax family over the last axis (ops/softmax.cpp) ---------------------------------------------
Variable softmax(const Variable& x);
Variable log_softmax(const Variable& x);

// ---- reductions and reshape (ops/reduce.cpp) ---------------------------------------------------------
Variable sum(const Variable& x);                              // all elements -> shape []
Variable sum(const Variable& x, int axis, bool keepdims = false);
Variable mean(const Variable& x);
Variable mean(const Variable& x, int axis, bool keepdims = false);
Variable reshape(const Variable& x, Shape shape);             // a view; one -1 allowed

// ---- linear algebra (ops/matmul.cpp) -----------------------------------------------------------------
Variable matmul(const Variable& a, const Variable& b);         // [M, K] x [K, N] -> [M, N]

// ---- convolutions (ops/conv2d.cpp, ops/conv2d_transpose.cpp; their shared checks and the padding rules of
// ---- convolution and pooling in ops/conv_family.cpp) ------------------------------------------------------
enum class Padding { Valid, Same, Explicit };
struct Pad2D {
  int top = 0, bottom = 0, left = 0, right = 0;
  bool operator==(const Pad2D&) const = default;
};
// TensorFlow's 'same' rule for one axis: out = ceil(in / s); total = max((out-1)*s + (k-1)*d + 1 - in, 0);
// before = total / 2, after = the rest. Used by conv and pooling, and printed by Model::summary().
std::array<int, 2> same_padding_1d(int in, int kernel, int stride, int dilation = 1);
// Output size of a conv/pool along one axis with the given explicit padding.
int conv_output_size(int in, int kernel, int stride, int dilation, int pad_before, int pad_after);

// The arguments of both convolutions.
struct ConvOptions {
  std::array<int, 2> strides{1, 1};
  std::array<int, 2> dilation{1, 1};
  Padding padding = Padding::Valid;           // conv2d_transpose: Valid or Same
  Pad2D pads{};                               // conv2d, when padding == Explicit
  std::array<int, 2> output_padding{-1, -1};  // conv2d_transpose; -1 = not given (Keras's None)
  // conv2d only: relu(conv + bias) as one op, applied as each output tile is stored (a layer's 'relu' activation).
  // Same values as relu(conv2d(...)); the backward takes the ReLU's gradient from the output's sign.
  bool relu = false;
};
using Conv2DOptions = ConvOptions;
using Conv2DTransposeOptions = ConvOptions;

// Padding actually applied for input height/width and kernel size (resolves Same/Valid/Explicit).
Pad2D resolve_padding(const ConvOptions& o, int in_h, int in_w, int kh, int kw);
// x [N, H, W, Cin], kernel [kh, kw, Cin, Cout], bias [Cout] or undefined.
Variable conv2d(const Variable& x, const Variable& kernel, const Variable& bias, const ConvOptions& options);

// Keras's deconv_output_length for one axis (output_padding < 0 means None).
int conv_transpose_output_size(int in, int kernel, int stride, int dilation, Padding padding, int output_padding);
// x [N, H, W, Cin], kernel [kh, kw, Cout, Cin] (Keras's layout), bias [Cout] or undefined.
Variable conv2d_transpose(const Variable& x, const Variable& kernel, const Variable& bias,
                          const ConvOptions& options);

// ---- fused convolutions (ops/concat_conv2d.cpp, upsample_conv2d.cpp): the U-Net decoder's pairs of layers as one
// op, with the values of the pair up to float32 rounding and without the tensor between them. Their ops are named
// conv2d_concat and conv2d_upsample2x (+ "_relu") so that the profiler counts them with the convolutions ----
// conv2d(concat(parts, channel axis), kernel, bias, options): each part [N, H, W, C_p] convolved with its own input
// channels of the kernel [kh, kw, sum C_p, Cout], the results summed; bias and options.relu come after the sum.
Variable concat_conv2d(const std::vector<Variable>& parts, const Variable& kernel, const Variable& bias,
                       const ConvOptions& options);
// conv2d(upsample2d(x, {2, 2}, Nearest), kernel, bias, 'same' padding, relu) for x [N, H, W, Cin] and a 2x2 kernel
// [2, 2, Cin, Cout]: y [N, 2H, 2W, Cout] from x directly (9 tap products per 2x2 output pixels instead of 16).
Variable upsample2x_conv2d(const Variable& x, const Variable& kernel, const Variable& bias, bool relu);

// ---- other image ops (ops/pool2d.cpp, upsample2d.cpp, batch_norm.cpp, dropout.cpp, concat.cpp) -----------
struct Pool2DOptions {
  std::array<int, 2> pool_size{2, 2};
  std::array<int, 2> strides{-1, -1};  // -1 = pool_size, as Keras
  Padding padding = Padding::Valid;    // Valid or Same
};
Variable max_pool2d(const Variable& x, const Pool2DOptions& options);  // ties: gradient to the first max
Variable avg_pool2d(const Variable& x, const Pool2DOptions& options);  // padding excluded from the count

enum class Interpolation { Nearest, Bilinear };
Variable upsample2d(const Variable& x, std::array<int, 2> size, Interpolation interpolation);

struct BatchNormOptions {
  double momentum = 0.99;
  double epsilon = 1e-3;
  // tf.keras (Keras 2) feeds the Bessel-corrected batch variance n/(n-1) into the moving variance; Keras 3
  // feeds the biased one. Default: tf.keras.
  bool unbiased_moving_variance = true;
};
// x [..., C]; gamma, beta [C] or undefined (scale=False / center=False). In training, normalises with the
// batch statistics over every axis but the last and updates moving_mean / moving_variance in place. `parts`
// (training only): x is this replica's share of a batch split among replicas, and the statistics, the moving
// statistics and dx are the whole batch's (the same on every replica); gamma's and beta's gradients stay this
// replica's share, to be summed over the replicas like every other weight's. Its `replicas` must outlive backward.
Variable batch_norm(const Variable& x, const Variable& gamma, const Variable& beta, Tensor& moving_mean,
                    Tensor& moving_variance, bool training, const BatchNormOptions& options = {},
                    const BatchParts* parts = nullptr);

// Inverted dropout: keeps each element with probability 1 - rate and scales it by 1 / (1 - rate). The mask
// comes from `rng` (advanced by numel), so replaying with the same generator state replays the step.
Variable dropout(const Variable& x, double rate, bool training, Rng& rng);

Variable concat(const std::vector<Variable>& xs, int axis);
// Samples [begin, end) of the first axis (ops/slice.cpp).
Variable slice_batch(const Variable& x, int64_t begin, int64_t end);

// ---- losses (ops/losses.cpp): targets are plain tensors; every loss is a mean over pixels and batch ----
// Class weights follow Keras's class_weight: each pixel's loss is multiplied by the weight of its true class
// (the label; argmax of a one-hot row; round(target) for binary_crossentropy, whose two weights are for target
// 0 and target 1) and the mean still divides by the number of pixels, not by the sum of weights (unlike
// torch's weighted cross_entropy). Ignored (void) pixels carry no loss and are left out of that count.
// On probabilities the losses clip exactly as tf.keras does (see each function); from logits they are the
// fused, stable forms.
struct LossOptions {
  bool from_logits = false;
  std::vector<double> class_weights;  // empty = all 1
  // Void pixels, when >= 0 (any negative = none): sparse labels equal to it; for one-hot targets
  // (categorical_crossentropy, dice_loss with C > 1) rows that are all zero; for binary_crossentropy and a
  // single-channel dice_loss, target values equal to it (a 0/1 mask with 255 for void).
  int ignore_index = -1;
  // The crossentropies only: a weight per pixel (Keras's sample_weight of shape [batch, H, W]), the prediction's
  // shape without its last axis, finite and >= 0; multiplies each pixel's loss in place of its class weight, and the
  // mean still divides by the number of counted pixels. Undefined: none. (The U-Net paper's weight map.)
  Tensor pixel_weights;
};
// pred [..., C] probabilities (or logits); target one-hot [..., C]. On probabilities (tf.keras):
// p / sum(p), clipped to [1e-7, 1 - 1e-7], then -sum(y log p).
Variable categorical_crossentropy(const Variable& pred, const Tensor& target, const LossOptions& options = {});
// pred [..., C]; labels [...] (or [..., 1]) holding class ids as numbers. On probabilities (tf.keras): p is
// clipped to [1e-7, 1 - 1e-7] and its log fed to a softmax cross-entropy, i.e. log(sum(clipped p)) - log p_k.
Variable sparse_categorical_crossentropy(const Variable& pred, const Tensor& labels, const LossOptions& options = {});
// pred and target of the same shape; target in [0, 1]; a mean over elements. On probabilities (tf.keras):
// p clipped to [1e-7, 1 - 1e-7], then -(y log(p + 1e-7) + (1 - y) log(1 - p + 1e-7)) (Keras 3 drops the
// "+ 1e-7": at p = 0 with target 1, tf.keras gives -log(2e-7) = 15.42 where Keras 3 gives -log(1e-7) = 16.12).
Variable binary_crossentropy(const Variable& pred, const Tensor& target, const LossOptions& options = {});
// Soft Dice: 1 - mean over classes of (2 sum(p y) + smooth) / (sum(p) + sum(y) + smooth), the sums over every
// pixel of the batch; pred probabilities (or logits, through softmax, or sigmoid for a single channel, which is
// then the one foreground class) [..., C], target one-hot [..., C]. Class weights make it the weighted mean
// sum(w_c d_c) / sum(w_c) (a weight 0 leaves a class, e.g. the background, out).
Variable dice_loss(const Variable& pred, const Tensor& target, const LossOptions& options = {}, double smooth = 1.0);
Variable mse(const Variable& pred, const Tensor& target);
Variable mae(const Variable& pred, const Tensor& target);

}  // namespace tg
