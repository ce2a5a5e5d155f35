"""Optimizer and learning-rate schedule references (float64).

Each optimizer case minimises loss = sum(coef * (w - target)^2) over two parameters for a few steps, so every
gradient depends on the weights the previous update produced and an error compounds. Two kinds of reference:
  * "torch": PyTorch's own optimizers, where they are the same algorithm as Keras's (Adam/AdamW with eps = 0, since
    only the epsilon placement differs; SGD with a constant learning rate).
  * "keras": Keras's update formulas written out below in plain float64 (epsilon hat, momentum with lr inside the
    velocity, decoupled weight decay, clip by global norm, schedules), following keras/src/optimizers/*.py.
"""
import math

import torch

from make_fixtures import to_list

STEPS = 6


def make_params():
    g = torch.Generator().manual_seed(7)
    shapes = {"dense/kernel": (3, 4), "dense/bias": (4,)}
    params = []
    for name, shape in shapes.items():
        params.append({
            "name": name,
            "init": torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1,
            "target": torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1,
            "coef": torch.rand(shape, generator=g, dtype=torch.float64) * 3 + 0.1,
        })
    return params


def grad_of(p, w):
    return 2.0 * p["coef"] * (w - p["target"])


def case(config, params, trajectory, lrs=None):
    out = {
        "optimizer": config,
        "params": [{"name": p["name"], "init": to_list(p["init"]), "target": to_list(p["target"]),
                    "coef": to_list(p["coef"])} for p in params],
        "steps": len(trajectory),
        "expected": [[to_list(w) for w in ws] for ws in trajectory],
    }
    if lrs is not None:
        out["learning_rates"] = lrs
    return out


# ---- PyTorch's optimizers ------------------------------------------------------------------------------------
def torch_run(params, make_opt):
    ws = [p["init"].clone().requires_grad_(True) for p in params]
    opt = make_opt(ws)
    trajectory = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = sum((p["coef"] * (w - p["target"]) ** 2).sum() for p, w in zip(params, ws))
        loss.backward()
        opt.step()
        trajectory.append([w.detach().clone() for w in ws])
    return trajectory


# ---- Keras's formulas ------------------------------------------------------------------------------------------
def schedule_value(s, step):
    if s is None:
        return None
    name = s["name"]
    if name == "constant":
        return s["initial_learning_rate"]
    if name == "step_decay":
        return s["initial_learning_rate"] * s["decay_rate"] ** (step // s["decay_steps"])
    if name == "cosine":
        init, decay_steps, alpha = s["initial_learning_rate"], s["decay_steps"], s.get("alpha", 0.0)
        target, warm = s.get("warmup_target"), s.get("warmup_steps", 0)

        def decay(x, start):
            return start * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * x / decay_steps)) + alpha)

        if target is None:
            return decay(min(step, decay_steps), init)
        x = min(step, decay_steps + warm)
        if x < warm:
            return (target - init) * (x / warm) + init
        return decay(x - warm, target)
    raise ValueError(name)


def keras_run(params, config):
    name = config["name"]
    lr0 = config.get("learning_rate", 0.01 if name == "sgd" else 1e-3)
    wd = config.get("weight_decay", 0.004 if name == "adamw" else 0.0)
    clip = config.get("global_clipnorm", 0.0)
    b1, b2 = config.get("beta_1", 0.9), config.get("beta_2", 0.999)
    eps = config.get("epsilon", 1e-7)
    ws = [p["init"].clone() for p in params]
    m = [torch.zeros_like(w) for w in ws]
    v = [torch.zeros_like(w) for w in ws]
    trajectory, lrs = [], []
    for it in range(STEPS):
        lr = lr0 if "schedule" not in config else schedule_value(config["schedule"], it)
        lrs.append(lr)
        grads = [grad_of(p, w) for p, w in zip(params, ws)]
        if clip > 0:
            norm = math.sqrt(sum(float((g * g).sum()) for g in grads))
            if norm > clip:
                grads = [g * (clip / norm) for g in grads]
        ws = [w - w * wd * lr for w in ws]
        t = it + 1
        for i, g in enumerate(grads):
            if name in ("adam", "adamw"):
                alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                m[i] = m[i] + (g - m[i]) * (1 - b1)
                v[i] = v[i] + (g * g - v[i]) * (1 - b2)
                ws[i] = ws[i] - (m[i] * alpha) / (torch.sqrt(v[i]) + eps)
            else:
                mu = config.get("momentum", 0.0)
                m[i] = -g * lr + m[i] * mu
                ws[i] = ws[i] + (-g * lr + m[i] * mu if config.get("nesterov") else m[i])
        trajectory.append([w.clone() for w in ws])
    return trajectory, lrs


def cases():
    params = make_params()
    out = {}
    # Independent implementations: PyTorch.
    out["torch_adam_eps0"] = case({"name": "adam", "learning_rate": 0.05, "epsilon": 0.0}, params,
                                  torch_run(params, lambda ws: torch.optim.Adam(ws, lr=0.05, eps=0.0)))
    out["torch_adam_amsgrad_eps0"] = case(
        {"name": "adam", "learning_rate": 0.05, "epsilon": 0.0, "amsgrad": True, "beta_2": 0.9}, params,
        torch_run(params, lambda ws: torch.optim.Adam(ws, lr=0.05, eps=0.0, amsgrad=True, betas=(0.9, 0.9))))
    out["torch_adamw_eps0"] = case(
        {"name": "adamw", "learning_rate": 0.05, "epsilon": 0.0, "weight_decay": 0.3}, params,
        torch_run(params, lambda ws: torch.optim.AdamW(ws, lr=0.05, eps=0.0, weight_decay=0.3)))
    out["torch_sgd"] = case({"name": "sgd", "learning_rate": 0.02}, params,
                            torch_run(params, lambda ws: torch.optim.SGD(ws, lr=0.02)))
    out["torch_sgd_momentum"] = case(
        {"name": "sgd", "learning_rate": 0.02, "momentum": 0.9}, params,
        torch_run(params, lambda ws: torch.optim.SGD(ws, lr=0.02, momentum=0.9)))
    out["torch_sgd_nesterov"] = case(
        {"name": "sgd", "learning_rate": 0.02, "momentum": 0.9, "nesterov": True}, params,
        torch_run(params, lambda ws: torch.optim.SGD(ws, lr=0.02, momentum=0.9, nesterov=True)))
    # Keras's formulas, where Keras and PyTorch differ.
    for name, config in {
        "keras_adam_defaults": {"name": "adam"},
        "keras_adam_large_eps": {"name": "adam", "learning_rate": 0.1, "epsilon": 0.5},
        "keras_adamw_defaults": {"name": "adamw"},
        "keras_adamw_decay": {"name": "adamw", "learning_rate": 0.05, "weight_decay": 0.5, "epsilon": 0.01},
        "keras_adam_clip_cosine_warmup": {
            "name": "adam", "learning_rate": 0.05, "global_clipnorm": 0.5,
            "schedule": {"name": "cosine", "initial_learning_rate": 0.01, "decay_steps": 3, "alpha": 0.1,
                         "warmup_steps": 2, "warmup_target": 0.1}},
        "keras_sgd_momentum_step_decay": {
            "name": "sgd", "learning_rate": 0.05, "momentum": 0.8,
            "schedule": {"name": "step_decay", "initial_learning_rate": 0.05, "decay_steps": 2, "decay_rate": 0.5}},
        "keras_sgd_nesterov_step_decay_clip": {
            "name": "sgd", "learning_rate": 0.05, "momentum": 0.8, "nesterov": True, "global_clipnorm": 1.0,
            "schedule": {"name": "step_decay", "initial_learning_rate": 0.05, "decay_steps": 2, "decay_rate": 0.5}},
    }.items():
        trajectory, lrs = keras_run(params, config)
        out[name] = case(config, params, trajectory, lrs)

    # Schedules on their own: values at many steps.
    schedules = {
        "cosine_plain": {"name": "cosine", "initial_learning_rate": 0.1, "decay_steps": 10, "alpha": 0.0},
        "cosine_alpha": {"name": "cosine", "initial_learning_rate": 0.1, "decay_steps": 10, "alpha": 0.2},
        "cosine_warmup": {"name": "cosine", "initial_learning_rate": 0.0, "decay_steps": 10, "alpha": 0.05,
                          "warmup_steps": 4, "warmup_target": 0.2},
        "step_decay": {"name": "step_decay", "initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.3},
        "constant": {"name": "constant", "initial_learning_rate": 0.0125},
    }
    steps = list(range(0, 20))
    out["schedules"] = {"steps": steps,
                        "cases": {k: {"config": s, "values": [schedule_value(s, i) for i in steps]}
                                  for k, s in schedules.items()}}
    # Cross-check the no-warm-up cosine against PyTorch's closed form (CosineAnnealingLR with eta_min = alpha * lr).
    for key in ("cosine_plain", "cosine_alpha"):
        s = schedules[key]
        eta_max, eta_min, t_max = s["initial_learning_rate"], s["alpha"] * s["initial_learning_rate"], s["decay_steps"]
        for i in steps:
            ti = min(i, t_max)
            ref = eta_min + (eta_max - eta_min) * (1 + math.cos(math.pi * ti / t_max)) / 2
            assert abs(ref - schedule_value(s, i)) < 1e-15, (key, i)
    return out
