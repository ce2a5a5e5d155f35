"""Batch normalisation and loss references (float64), computed with PyTorch independently of tapegrad.

Inputs are rounded to float32 values first, so the C++ test feeds exactly these numbers to its float32 run.
  * Batch norm: torch.nn.functional.batch_norm on NCHW (torch momentum = 1 - Keras momentum, eps = 1e-3) with a fixed
    random upstream gradient; torch feeds the Bessel-corrected variance to its running average, as tf.keras does.
    The Keras 3 convention (biased variance) is written out in torch ops.
  * Losses: torch's own where it is the same formula as Keras (cross-entropy and BCE from logits, MSE, MAE);
    Keras's formulas written out in torch ops where torch differs (class weights: Keras multiplies each pixel's loss
    by its class's weight and still divides by the pixel count, torch divides by the sum of weights; probability
    inputs: Keras renormalises and clips; soft Dice).
"""
import torch
import torch.nn.functional as F

from make_fixtures import to_list

# Keras clips with epsilon = 1e-7 taken in the tensor's dtype; the C++ side checks float32 runs, so the bounds
# here are the float32 values (1 - 1e-7 rounds to 0.99999988 in float32, which matters where p hits the bound).
EPS32 = torch.tensor(1e-7, dtype=torch.float32).item()
HI32 = (torch.tensor(1.0, dtype=torch.float32) - torch.tensor(1e-7, dtype=torch.float32)).item()


def f32(t):
    return t.to(torch.float32).to(torch.float64)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def batch_norm_case(training, seed):
    g = gen(seed)
    x = f32(torch.randn(2, 3, 3, 4, generator=g) * 1.5 + 0.7)
    gamma = f32(torch.rand(4, generator=g) + 0.5)
    beta = f32(torch.randn(4, generator=g) * 0.5)
    moving_mean = f32(torch.randn(4, generator=g) * 0.1)
    moving_variance = f32(torch.rand(4, generator=g) + 0.5)
    grad_output = f32(torch.randn(2, 3, 3, 4, generator=g))

    xt, gt, bt = (v.clone().requires_grad_() for v in (x, gamma, beta))
    running_mean, running_var = moving_mean.clone(), moving_variance.clone()
    keras_momentum = 0.99
    y = F.batch_norm(xt.permute(0, 3, 1, 2), running_mean, running_var, gt, bt, training=training,
                     momentum=1 - keras_momentum, eps=1e-3).permute(0, 2, 3, 1)
    y.backward(grad_output)
    case = {
        "training": training, "momentum": keras_momentum, "epsilon": 1e-3,
        "x": to_list(x), "gamma": to_list(gamma), "beta": to_list(beta),
        "moving_mean": to_list(moving_mean), "moving_variance": to_list(moving_variance),
        "grad_output": to_list(grad_output),
        "y": to_list(y), "dx": to_list(xt.grad), "dgamma": to_list(gt.grad), "dbeta": to_list(bt.grad),
        "moving_mean_after": to_list(running_mean), "moving_variance_after": to_list(running_var),
    }
    if training:
        biased = x.var(dim=(0, 1, 2), unbiased=False)
        case["moving_variance_after_biased"] = to_list(moving_variance * keras_momentum + biased * (1 - keras_momentum))
    return case


def loss_case(loss, pred, fn, target=None, labels=None, options=None):
    """fn(pred) -> scalar loss; records the value and d loss / d pred."""
    p = pred.clone().requires_grad_()
    value = fn(p)
    value.backward()
    case = {"loss": loss, "options": options or {}, "pred": to_list(pred), "value": float(value), "grad": to_list(p.grad)}
    if target is not None:
        case["target"] = to_list(target)
    if labels is not None:
        case["labels"] = to_list(labels)
    return case


def one_hot(labels, classes, ignore=None):
    safe = labels.clone()
    if ignore is not None:
        safe[labels == ignore] = 0
    y = F.one_hot(safe, classes).to(torch.float64)
    if ignore is not None:
        y[labels == ignore] = 0
    return y


def keras_ce_probs(p, y):
    q = p / p.sum(-1, keepdim=True)
    return -(y * q.clamp(EPS32, HI32).log()).sum(-1).mean()


def keras_sparse_ce_probs(p, labels):
    return F.cross_entropy(p.clamp(EPS32, HI32).log().permute(0, 3, 1, 2), labels)


def keras_bce_probs(p, y):
    pc = p.clamp(EPS32, HI32)
    return -(y * (pc + EPS32).log() + (1 - y) * (1 - pc + EPS32).log()).mean()


def soft_dice(p, y, weights=None, smooth=1.0):
    axes = tuple(range(p.dim() - 1))
    inter, p_sum, y_sum = (p * y).sum(axes), p.sum(axes), y.sum(axes)
    d = (2 * inter + smooth) / (p_sum + y_sum + smooth)
    w = torch.ones_like(d) if weights is None else torch.tensor(weights, dtype=torch.float64)
    return 1 - (w * d).sum() / w.sum()


def loss_cases():
    g = gen(10)
    cases = {}
    shape, classes = (2, 3, 3, 4), 4
    logits = f32(torch.randn(*shape, generator=g) * 2)
    labels = torch.randint(0, classes, shape[:-1], generator=g)
    y = one_hot(labels, classes)

    # Cross-entropy from logits: torch's own (the same formula). Run as categorical (one-hot) and sparse.
    cases["ce_logits"] = loss_case("ce", logits, lambda p: F.cross_entropy(p.permute(0, 3, 1, 2), labels),
                                   target=y, labels=labels, options={"from_logits": True})

    # Ignored pixels: torch's ignore_index also leaves them out of the mean's count.
    void = labels.clone()
    void[0, 0, 1] = void[1, 2, 2] = void[1, 0, 0] = 255
    cases["ce_logits_ignore"] = loss_case(
        "ce", logits, lambda p: F.cross_entropy(p.permute(0, 3, 1, 2), void, ignore_index=255),
        target=one_hot(void, classes, ignore=255), labels=void, options={"from_logits": True, "ignore_index": 255})

    # Class weights, Keras-style: weight of the true class times the pixel's loss, mean over pixels.
    weights = [0.5, 2.0, 1.0, 3.0]
    w = torch.tensor(weights, dtype=torch.float64)

    def weighted_ce(p):
        nll = -F.log_softmax(p, -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        return (nll * w[labels]).mean()
    cases["ce_logits_weighted"] = loss_case("ce", logits, weighted_ce, target=y, labels=labels,
                                            options={"from_logits": True, "class_weights": weights})

    # Probabilities, not normalised, so the renormalisation's gradient takes part.
    probs = f32(torch.rand(*shape, generator=g) * 0.9 + 0.1)
    cases["ce_probs"] = loss_case("categorical", probs, lambda p: keras_ce_probs(p, y), target=y)
    cases["sparse_ce_probs"] = loss_case("sparse", probs, lambda p: keras_sparse_ce_probs(p, labels), labels=labels)

    # Binary cross-entropy.
    bshape = (2, 3, 3, 1)
    blogits = f32(torch.randn(*bshape, generator=g) * 2)
    soft = f32(torch.rand(*bshape, generator=g))
    cases["bce_logits"] = loss_case("bce", blogits, lambda p: F.binary_cross_entropy_with_logits(p, soft),
                                    target=soft, options={"from_logits": True})
    hard = (torch.rand(*bshape, generator=g) > 0.5).to(torch.float64)
    bweights = [0.4, 2.5]
    bw = torch.tensor(bweights, dtype=torch.float64)
    cases["bce_logits_weighted"] = loss_case(
        "bce", blogits,
        lambda p: (F.binary_cross_entropy_with_logits(p, hard, reduction="none") * bw[hard.round().long()]).mean(),
        target=hard, options={"from_logits": True, "class_weights": bweights})
    bprobs = f32(torch.rand(2, 3, 3, 2, generator=g))
    bprobs[0, 0, 0, 0], bprobs[0, 1, 2, 1], bprobs[1, 2, 0, 0], bprobs[1, 1, 1, 1] = 0.0, 1.0, 0.0, 1.0
    btarget = f32(torch.rand(2, 3, 3, 2, generator=g))
    cases["bce_probs"] = loss_case("bce", bprobs, lambda p: keras_bce_probs(p, btarget), target=btarget)

    # Soft Dice, over the whole batch per class.
    dshape = (2, 3, 3, 3)
    dlabels = torch.randint(0, 3, dshape[:-1], generator=g)
    dy = one_hot(dlabels, 3)
    dlogits = f32(torch.randn(*dshape, generator=g) * 2)
    dprobs = f32(torch.softmax(dlogits, -1))
    cases["dice_probs"] = loss_case("dice", dprobs, lambda p: soft_dice(p, dy), target=dy)
    cases["dice_logits_weighted"] = loss_case(
        "dice", dlogits, lambda p: soft_dice(torch.softmax(p, -1), dy, weights=[0.2, 1.0, 2.0]), target=dy,
        options={"from_logits": True, "class_weights": [0.2, 1.0, 2.0]})
    cases["dice_logits_sigmoid"] = loss_case("dice", blogits, lambda p: soft_dice(torch.sigmoid(p), hard), target=hard,
                                             options={"from_logits": True})

    # Regression.
    rpred = f32(torch.randn(2, 3, 3, 2, generator=g))
    rtarget = f32(torch.randn(2, 3, 3, 2, generator=g))
    cases["mse"] = loss_case("mse", rpred, lambda p: F.mse_loss(p, rtarget), target=rtarget)
    cases["mae"] = loss_case("mae", rpred, lambda p: F.l1_loss(p, rtarget), target=rtarget)
    return cases


def cases():
    out = {"bn_train": batch_norm_case(True, 1), "bn_inference": batch_norm_case(False, 2)}
    out.update(loss_cases())
    return out
