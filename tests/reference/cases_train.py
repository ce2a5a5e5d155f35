"""One whole training step, three times: forward, loss, backward and Adam on a small U-Net (float64), in PyTorch.

The network is unet((16, 16, 1), 2 classes, base_filters 2, depth 2, dropout 0, batch_norm) built as in
cases_layers.py (TF 'same' padding by F.pad, HWIO kernels permuted to OIHW, tapegrad's layer names), trained on a
batch of 2 with sparse categorical crossentropy on the logits (the mean over every pixel; Keras's fit skips the
softmax and uses from_logits) and Keras's Adam written out (epsilon hat: eps added to sqrt(v) before the bias
correction folded into the step size). BatchNormalization runs on batch statistics and updates its moving
statistics (momentum 0.99, Bessel-corrected variance). Every weight, moving statistics included, is recorded
after each step, so a wrong gradient anywhere in the network shows after the first step and compounds after.
"""
import math

import torch
import torch.nn.functional as F

import cases_layers
from make_fixtures import to_list

STEPS = 3
LR, B1, B2, EPS = 0.01, 0.9, 0.999, 1e-7


class ParamBuilder(cases_layers.Builder):
    """A Builder whose weights are made on the first forward pass and reused (and trained) after it."""

    def __init__(self, params):
        super().__init__(seed=21, training=True)
        self.params = params

    def tensor(self, name, t):
        if name not in self.params:
            moving = name.endswith("moving_mean") or name.endswith("moving_variance")
            self.params[name] = t.clone().requires_grad_(not moving)
        return self.params[name]


def forward(params, x):
    """The logits of unet(depth 2, base 2, batch_norm, no dropout), NCHW."""
    b = ParamBuilder(params)
    b.name("input")

    def block(h, f):
        for _ in range(2):
            h = F.relu(b.bn(b.conv(h, f, 3)))
            b.name("activation")
        return h

    skips, h = [], x
    for level in range(2):
        h = block(h, 2 << level)
        skips.append(h)
        h = b.pool(h)
    h = block(h, 8)
    for level in (1, 0):
        up = b.conv(b.up(h), 2 << level, 2, "relu")
        h = block(b.concat(skips[level], up), 2 << level)
    logits = b.conv(h, 2, 1)
    return logits, b.updated


def unet_adam_steps():
    g = torch.Generator().manual_seed(22)
    x = torch.randn(2, 1, 16, 16, generator=g)
    labels = torch.randint(0, 2, (2, 16, 16), generator=g)
    params = {}
    forward(params, x)  # makes the weights
    initial = {k: to_list(v) for k, v in params.items()}
    m = {k: torch.zeros_like(v) for k, v in params.items() if v.requires_grad}
    v2 = {k: torch.zeros_like(v) for k, v in params.items() if v.requires_grad}
    steps, losses = [], []
    for t in range(1, STEPS + 1):
        for p in params.values():
            p.grad = None
        logits, updated = forward(params, x)
        loss = F.cross_entropy(logits, labels)  # mean over batch and pixels
        loss.backward()
        losses.append(float(loss))
        with torch.no_grad():
            alpha = LR * math.sqrt(1 - B2 ** t) / (1 - B1 ** t)
            for k, p in params.items():
                if k in updated:
                    p.copy_(updated[k])
                elif p.requires_grad:
                    m[k] += (p.grad - m[k]) * (1 - B1)
                    v2[k] += (p.grad * p.grad - v2[k]) * (1 - B2)
                    p -= m[k] * alpha / (torch.sqrt(v2[k]) + EPS)
        steps.append({k: to_list(v) for k, v in params.items()})
    return {"input": to_list(x.permute(0, 2, 3, 1)), "labels": to_list(labels),
            "optimizer": {"name": "adam", "learning_rate": LR, "beta_1": B1, "beta_2": B2, "epsilon": EPS},
            "initial": initial, "losses": losses, "steps": steps}


def cases():
    return {"unet_adam_steps": unet_adam_steps()}
