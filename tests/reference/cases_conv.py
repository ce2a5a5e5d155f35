"""Reference values for conv2d, conv2d_transpose, max/avg pooling and upsampling, with Keras (TensorFlow) semantics
emulated on PyTorch in float64.

Inputs, kernels, biases and the upstream gradient are float32-representable, so the C++ test can feed them to the
float32 ops exactly. Layouts are converted here: NHWC <-> NCHW, HWIO (conv) and (kh, kw, out, in) (transpose) <->
torch's [out, in, kh, kw] and [in, out, kh, kw]. TensorFlow's 'same' padding is asymmetric (the odd pixel goes
after), which torch's symmetric `padding=` cannot express, so it is applied here with an explicit F.pad, and the
transposed conv's 'same' cropping with an explicit crop of the full output.
"""
import math

import torch
import torch.nn.functional as F

from make_fixtures import to_list


def f32(t):
    """t rounded to float32 values, kept in float64."""
    return t.to(torch.float32).to(torch.float64)


def rand(gen, *shape):
    return f32(torch.rand(*shape, generator=gen, dtype=torch.float64) * 2 - 1)


def tf_same(size, k, s, d=1):
    """TensorFlow's 'same' padding for one axis: (before, after)."""
    k_eff = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + k_eff - size, 0)
    return total // 2, total - total // 2


def nhwc(t):
    return t.permute(0, 2, 3, 1)


def nchw(t):
    return t.permute(0, 3, 1, 2)


def run(op_fn, inputs, gen):
    """Forward in float64, then backward with a fixed random float32-representable upstream gradient."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    y = op_fn(**leaves)
    gy = rand(gen, *y.shape)
    y.backward(gy)
    out = {k: to_list(v) for k, v in inputs.items()}
    out.update({"y": to_list(y), "gy": to_list(gy)})
    out.update({"d" + k: to_list(v.grad) for k, v in leaves.items()})
    return out


def conv2d_case(gen, x_shape, k, cout, strides=(1, 1), padding="valid", dilation=(1, 1), pads=None, bias=True):
    cin = x_shape[3]
    inputs = {"x": rand(gen, *x_shape), "kernel": rand(gen, k[0], k[1], cin, cout)}
    if bias:
        inputs["bias"] = rand(gen, cout)
    if padding == "same":
        top, bottom = tf_same(x_shape[1], k[0], strides[0], dilation[0])
        left, right = tf_same(x_shape[2], k[1], strides[1], dilation[1])
    elif padding == "explicit":
        top, bottom, left, right = pads
    else:
        top = bottom = left = right = 0

    def op(x, kernel, bias=None):
        xp = F.pad(nchw(x), (left, right, top, bottom))
        y = F.conv2d(xp, kernel.permute(3, 2, 0, 1), bias, stride=strides, dilation=dilation)
        return nhwc(y)

    case = run(op, inputs, gen)
    case.update({"op": "conv2d", "strides": list(strides), "padding": padding, "dilation": list(dilation),
                 "pads": [top, bottom, left, right]})
    return case


def keras_deconv_length(size, k, s, d, padding, output_padding):
    """keras.utils.conv_utils.deconv_output_length."""
    k_eff = (k - 1) * d + 1
    if output_padding is None:
        return size * s + max(k_eff - s, 0) if padding == "valid" else size * s
    pad = k_eff // 2 if padding == "same" else 0
    return (size - 1) * s + k_eff - 2 * pad + output_padding


def conv2d_transpose_case(gen, x_shape, k, cout, strides=(2, 2), padding="same", output_padding=None,
                          dilation=(1, 1), bias=True):
    cin = x_shape[3]
    inputs = {"x": rand(gen, *x_shape), "kernel": rand(gen, k[0], k[1], cout, cin)}
    if bias:
        inputs["bias"] = rand(gen, cout)
    op_pad = output_padding or (None, None)
    out_h = keras_deconv_length(x_shape[1], k[0], strides[0], dilation[0], padding, op_pad[0])
    out_w = keras_deconv_length(x_shape[2], k[1], strides[1], dilation[1], padding, op_pad[1])
    # TensorFlow computes the conv2d_transpose padding as the 'same'/'valid' padding of the conv2d that maps the
    # output back to the input, and crops the full transposed output by its leading part.
    top = tf_same(out_h, k[0], strides[0], dilation[0])[0] if padding == "same" else 0
    left = tf_same(out_w, k[1], strides[1], dilation[1])[0] if padding == "same" else 0

    def op(x, kernel, bias=None):
        full = F.conv_transpose2d(nchw(x), kernel.permute(3, 2, 0, 1), None, stride=strides, dilation=dilation)
        fh, fw = full.shape[2], full.shape[3]
        # Negative padding crops; positive (output longer than the full result) appends zeros.
        y = F.pad(full, (-left, out_w + left - fw, -top, out_h + top - fh))
        if bias is not None:
            y = y + bias.view(1, -1, 1, 1)
        return nhwc(y)

    case = run(op, inputs, gen)
    case.update({"op": "conv2d_transpose", "strides": list(strides), "padding": padding,
                 "dilation": list(dilation), "output_padding": [-1 if p is None else p for p in op_pad]})
    return case


def pool_case(gen, kind, x_shape, pool, strides=None, padding="valid"):
    s = strides or pool
    inputs = {"x": rand(gen, *x_shape)}
    if padding == "same":
        top, bottom = tf_same(x_shape[1], pool[0], s[0])
        left, right = tf_same(x_shape[2], pool[1], s[1])
    else:
        top = bottom = left = right = 0
    pad = (left, right, top, bottom)

    def op(x):
        xc = nchw(x)
        if kind == "max_pool2d":
            return nhwc(F.max_pool2d(F.pad(xc, pad, value=-math.inf), pool, s))
        # Keras averages over the real cells only: window sums of x over window sums of a mask of ones.
        total = F.avg_pool2d(F.pad(xc, pad), pool, s)
        count = F.avg_pool2d(F.pad(torch.ones_like(xc), pad), pool, s)
        return nhwc(total / count)

    case = run(op, inputs, gen)
    case.update({"op": kind, "pool_size": list(pool), "strides": list(strides or (-1, -1)), "padding": padding})
    return case


def tf_resize_bilinear_1d(values, scale):
    """tf.image.resize(method='bilinear') along one axis, half-pixel centres, written out from TF's kernel."""
    n = len(values)
    out = []
    for o in range(n * scale):
        src = (o + 0.5) / scale - 0.5
        lower = max(math.floor(src), 0)
        upper = min(math.ceil(src), n - 1)
        lerp = src - math.floor(src)
        out.append(values[lower] + (values[upper] - values[lower]) * lerp)
    return out


def check_torch_bilinear_is_tf_half_pixel(gen):
    """Torch's align_corners=False bilinear must equal TF's half-pixel resize for integer factors, borders included."""
    for scale in (2, 3, 4):
        values = rand(gen, 5)
        got = F.interpolate(values.view(1, 1, 1, 5), scale_factor=(1, scale), mode="bilinear",
                            align_corners=False).view(-1).tolist()
        want = tf_resize_bilinear_1d(values.tolist(), scale)
        assert max(abs(a - b) for a, b in zip(got, want)) < 1e-12, (scale, got, want)


def upsample_case(gen, x_shape, size, mode):
    inputs = {"x": rand(gen, *x_shape)}

    def op(x):
        if mode == "nearest":
            y = F.interpolate(nchw(x), scale_factor=size, mode="nearest")
        else:
            y = F.interpolate(nchw(x), scale_factor=size, mode="bilinear", align_corners=False)
        return nhwc(y)

    case = run(op, inputs, gen)
    case.update({"op": "upsample2d", "size": list(size), "mode": mode})
    return case


def cases():
    gen = torch.Generator().manual_seed(20240603)
    check_torch_bilinear_is_tf_half_pixel(gen)
    c = {}
    # conv2d: odd and even kernels, stride 2 on odd and even sizes, dilation, explicit pads, asymmetric strides.
    c["conv_k3_s1_same_bias"] = conv2d_case(gen, (2, 5, 6, 2), (3, 3), 3, padding="same")
    c["conv_k2_s1_same"] = conv2d_case(gen, (1, 5, 6, 2), (2, 2), 3, padding="same", bias=False)
    c["conv_k4_s1_same"] = conv2d_case(gen, (1, 6, 5, 2), (4, 4), 2, padding="same")
    c["conv_k3_s2_same_even"] = conv2d_case(gen, (1, 8, 8, 2), (3, 3), 2, strides=(2, 2), padding="same")
    c["conv_k3_s2_same_odd"] = conv2d_case(gen, (1, 7, 7, 2), (3, 3), 2, strides=(2, 2), padding="same")
    c["conv_k2_s2_same_odd"] = conv2d_case(gen, (1, 7, 6, 2), (2, 2), 2, strides=(2, 2), padding="same")
    c["conv_k5_s2_same_mixed"] = conv2d_case(gen, (1, 9, 10, 1), (5, 5), 2, strides=(2, 2), padding="same")
    c["conv_k3_s2_valid"] = conv2d_case(gen, (1, 7, 8, 2), (3, 3), 3, strides=(2, 2), bias=False)
    c["conv_k3_d2_same"] = conv2d_case(gen, (1, 7, 6, 2), (3, 3), 2, padding="same", dilation=(2, 2))
    c["conv_k3x2_s2x1_valid"] = conv2d_case(gen, (1, 7, 6, 2), (3, 2), 2, strides=(2, 1))
    c["conv_k1_pointwise"] = conv2d_case(gen, (2, 3, 4, 3), (1, 1), 2)
    c["conv_explicit_pads"] = conv2d_case(gen, (1, 5, 5, 2), (3, 3), 2, strides=(1, 2), padding="explicit",
                                          pads=(1, 0, 2, 1))
    # conv2d_transpose: the U-Net's 2x2/2, 3x3/2 cropping, valid, output_padding, dilation.
    c["tconv_k2_s2_same"] = conv2d_transpose_case(gen, (2, 3, 4, 2), (2, 2), 3)
    c["tconv_k3_s2_same"] = conv2d_transpose_case(gen, (1, 3, 4, 2), (3, 3), 2)
    c["tconv_k3_s2_valid"] = conv2d_transpose_case(gen, (1, 3, 3, 2), (3, 3), 2, padding="valid", bias=False)
    c["tconv_k3_s2_same_op"] = conv2d_transpose_case(gen, (1, 3, 4, 2), (3, 3), 2, output_padding=(0, 1))
    c["tconv_k4_s2_valid_op"] = conv2d_transpose_case(gen, (1, 3, 3, 2), (4, 4), 2, padding="valid",
                                                      output_padding=(1, 1))
    c["tconv_k3_s1_same_d2"] = conv2d_transpose_case(gen, (1, 4, 5, 2), (3, 3), 2, strides=(1, 1),
                                                     dilation=(2, 2))
    c["tconv_k1_s3_valid"] = conv2d_transpose_case(gen, (1, 2, 3, 2), (1, 1), 2, strides=(3, 3), padding="valid")
    # Pooling.
    for kind, short in (("max_pool2d", "maxpool"), ("avg_pool2d", "avgpool")):
        c[f"{short}_2x2_valid"] = pool_case(gen, kind, (2, 6, 7, 2), (2, 2))
        c[f"{short}_2x2_same_odd"] = pool_case(gen, kind, (1, 5, 7, 2), (2, 2), padding="same")
        c[f"{short}_3x3_s2_same"] = pool_case(gen, kind, (1, 6, 7, 2), (3, 3), (2, 2), padding="same")
        c[f"{short}_3x3_s1_same"] = pool_case(gen, kind, (1, 5, 4, 2), (3, 3), (1, 1), padding="same")
        c[f"{short}_2x3_s1x2_valid"] = pool_case(gen, kind, (1, 5, 7, 1), (2, 3), (1, 2))
    # Upsampling.
    for mode in ("nearest", "bilinear"):
        c[f"up_{mode}_2x2"] = upsample_case(gen, (2, 3, 4, 2), (2, 2), mode)
        c[f"up_{mode}_2x3"] = upsample_case(gen, (1, 3, 4, 2), (2, 3), mode)
        c[f"up_{mode}_3x1"] = upsample_case(gen, (1, 4, 3, 1), (3, 1), mode)
    return c
