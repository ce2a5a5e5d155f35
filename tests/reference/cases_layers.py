"""Whole-model references for tests/layers (float64), written with PyTorch independently of tapegrad.

The two seed architectures at tiny width are written out layer by layer in torch (NCHW), with TensorFlow's 'same'
padding computed from its formula and applied by F.pad, Keras kernels (HWIO; Conv2DTranspose (kh, kw, out, in))
permuted to torch's layouts, and layer names generated the way tapegrad (and tf.keras) name them. Weights are
random and stored by name, so the C++ test loads them into its own model and compares outputs.
  * unet_tiny: unet((16, 16, 1), 2 classes, base_filters 2, depth 2, batch_norm) at inference (BN on moving
    statistics, Dropout off), softmax output.
  * autoencoder_train: the corrected seed build_model at base_filters 2 on (16, 16, 3), batch 2, in training mode:
    BN on batch statistics; also the moving statistics after the step (momentum 0.99, Bessel-corrected variance).
"""
import torch
import torch.nn.functional as F

from make_fixtures import to_list


class Namer:
    def __init__(self):
        self.counts = {}

    def __call__(self, base):
        n = self.counts.get(base, 0)
        self.counts[base] = n + 1
        return base if n == 0 else f"{base}_{n}"


def same_pad(size, k, s=1):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


class Builder:
    def __init__(self, seed, training):
        self.g = torch.Generator().manual_seed(seed)
        self.name = Namer()
        self.weights = {}
        self.updated = {}
        self.training = training

    def tensor(self, name, t):
        self.weights[name] = t
        return t

    def conv(self, x, filters, k, activation=None, transpose=False):
        name = self.name("conv2d_transpose" if transpose else "conv2d")
        cin = x.shape[1]
        if transpose:  # Keras (kh, kw, out, in) -> torch (in, out, kh, kw)
            kernel = self.tensor(f"{name}/kernel", torch.randn(k, k, filters, cin, generator=self.g) * (2 / (k * k * filters)) ** 0.5)
            bias = self.tensor(f"{name}/bias", torch.randn(filters, generator=self.g) * 0.1)
            y = F.conv_transpose2d(x, kernel.permute(3, 2, 0, 1), bias, stride=2)  # k = s = 2 crops nothing
        else:  # Keras HWIO -> torch OIHW, TF 'same' padding
            kernel = self.tensor(f"{name}/kernel", torch.randn(k, k, cin, filters, generator=self.g) * (2 / (k * k * cin)) ** 0.5)
            bias = self.tensor(f"{name}/bias", torch.randn(filters, generator=self.g) * 0.1)
            top, bottom = same_pad(x.shape[2], k)
            left, right = same_pad(x.shape[3], k)
            y = F.conv2d(F.pad(x, (left, right, top, bottom)), kernel.permute(3, 2, 0, 1), bias)
        if activation == "relu":
            y = F.relu(y)
        if activation == "softmax":
            y = F.softmax(y, dim=1)
        return y

    def bn(self, x):
        name = self.name("batch_normalization")
        c = x.shape[1]
        gamma = self.tensor(f"{name}/gamma", torch.rand(c, generator=self.g) + 0.5)
        beta = self.tensor(f"{name}/beta", torch.randn(c, generator=self.g) * 0.1)
        mean = self.tensor(f"{name}/moving_mean", torch.randn(c, generator=self.g) * 0.1)
        var = self.tensor(f"{name}/moving_variance", torch.rand(c, generator=self.g) + 0.5)
        running_mean, running_var = mean.clone(), var.clone()
        # torch's momentum is 1 - Keras's; its running variance takes the Bessel-corrected batch variance.
        y = F.batch_norm(x, running_mean, running_var, gamma, beta, training=self.training, momentum=0.01, eps=1e-3)
        self.updated[f"{name}/moving_mean"] = running_mean
        self.updated[f"{name}/moving_variance"] = running_var
        return y

    def pool(self, x):
        self.name("max_pooling2d")
        return F.max_pool2d(x, 2)

    def up(self, x):
        self.name("up_sampling2d")
        return F.interpolate(x, scale_factor=2, mode="nearest")

    def concat(self, a, b):
        self.name("concatenate")
        return torch.cat([a, b], dim=1)


def unet_tiny():
    b = Builder(seed=11, training=False)
    b.name("input")  # input_1 (counted from 1)
    x = torch.randn(2, 1, 16, 16, generator=b.g)

    def block(h, f):
        for _ in range(2):
            h = F.relu(b.bn(b.conv(h, f, 3)))
            b.name("activation")
        return h

    skips, h = [], x
    for level in range(2):
        h = block(h, 2 << level)
        if level == 1:
            b.name("dropout")  # identity at inference
        skips.append(h)
        h = b.pool(h)
    h = block(h, 8)
    b.name("dropout")
    for level in (1, 0):
        up = b.conv(b.up(h), 2 << level, 2, "relu")
        h = block(b.concat(skips[level], up), 2 << level)
    y = b.conv(h, 2, 1, "softmax")
    return {"input": to_list(x.permute(0, 2, 3, 1)), "output": to_list(y.permute(0, 2, 3, 1)),
            "weights": {k: to_list(v) for k, v in b.weights.items()}}


def autoencoder_train():
    b = Builder(seed=12, training=True)
    x = torch.randn(2, 3, 16, 16, generator=b.g)

    def conv_bn(h, f):
        return b.bn(b.conv(h, f, 3, "relu"))

    f = 2
    conv1 = conv_bn(x, f)
    conv2 = conv_bn(conv1, f)
    conv3 = conv_bn(b.pool(conv2), 2 * f)
    conv4 = conv_bn(conv3, 2 * f)
    conv5 = conv_bn(b.pool(conv4), 4 * f)
    conv6 = conv_bn(conv5, 4 * f)
    up1 = b.conv(conv6, 2 * f, 2, transpose=True)
    conv7 = conv_bn(b.concat(conv4, up1), 2 * f)
    conv8 = conv_bn(conv7, 2 * f)
    up2 = b.conv(conv8, f, 2, transpose=True)
    conv9 = conv_bn(b.concat(conv2, up2), f)
    conv10 = conv_bn(conv9, f)
    y = b.conv(conv10, 3, 3)
    return {"input": to_list(x.permute(0, 2, 3, 1)), "output": to_list(y.permute(0, 2, 3, 1)),
            "weights": {k: to_list(v) for k, v in b.weights.items()},
            "updated": {k: to_list(v) for k, v in b.updated.items()}}


def cases():
    return {"unet_tiny": unet_tiny(), "autoencoder_train": autoencoder_train()}
