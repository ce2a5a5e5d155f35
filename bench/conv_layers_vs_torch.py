#!/usr/bin/python3
"""Per-layer convolution table: tapegrad's kernels against torch.nn.functional.conv2d on every conv shape of the U-Net.

For each convolution of the U-Net (the shapes of bench/conv_bench.cpp: depth 4, 3x3 'same' blocks, the 2x2 conv after
each upsampling, the 1x1 output layer) it prints forward, input-gradient and kernel-gradient GFLOP/s of tapegrad
(bench_conv_bench, run here) and of PyTorch on the same shape, and tapegrad / PyTorch per pass, so one sees which
kernel is behind. PyTorch's passes are timed one by one through aten's convolution_backward (output_mask picks the
input or the weight gradient); PyTorch's layout is NCHW unless --channels-last. 2 FLOPs per multiply-add.

  /usr/bin/python3 bench/conv_layers_vs_torch.py --filters 16 --batch 2 --size 256 --threads 1 --cpu-time
  /usr/bin/python3 bench/conv_layers_vs_torch.py --filters 64 --batch 1 --threads 2 --channels-last
  /usr/bin/python3 bench/conv_layers_vs_torch.py --filters 64 --threads 1 --cpu-time \
      --baseline /work/wt-base/build/bench_conv_bench --rounds 3

--baseline names an older bench_conv_bench: the table then shows that build ("before") beside this one ("after")
and PyTorch, both tapegrad builds run alternately for --rounds rounds (medians per layer and pass), so that a slow
spell of a shared machine hits both.

Needs Debian's PyTorch (/usr/bin/python3; the pyenv python on PATH does not see it) and a built build/bench_conv_bench
(--tapegrad names another). On a machine shared with other jobs use --threads 1 --cpu-time (both sides then count
their own process's CPU time, not the wall clock) and compare ratios.
"""
import argparse, os, re, statistics, subprocess, sys, time

import torch
import torch.nn.functional as F


def unet_shapes(f, classes):
    """(name, size divisor, in channels, out channels, kernel), in bench/conv_bench.cpp's order."""
    shapes, depth = [], 4
    for level in range(depth + 1):
        out, cin = f << level, 1 if level == 0 else f << (level - 1)
        where = "bottom" if level == depth else f"down{level}"
        shapes += [(f"{where} 3x3 a", 1 << level, cin, out, 3), (f"{where} 3x3 b", 1 << level, out, out, 3)]
    for level in reversed(range(depth)):
        out = f << level
        shapes += [(f"up{level} 2x2", 1 << level, 2 * out, out, 2), (f"up{level} 3x3 a", 1 << level, 2 * out, out, 3),
                   (f"up{level} 3x3 b", 1 << level, out, out, 3)]
    shapes.append(("output 1x1", 1, f, classes, 1))
    return shapes


clock = time.perf_counter


def median_ms(runs, fn):
    fn()  # warm-up: oneDNN picks and caches its kernel on the first call
    times = []
    for _ in range(runs):
        t0 = clock()
        fn()
        times.append((clock() - t0) * 1e3)
    return statistics.median(times)


def torch_passes(batch, size, cin, cout, k, runs, channels_last):
    """Median ms of forward, input gradient and weight gradient for a stride-1 'same' conv (TensorFlow's padding:
    the odd pixel of an even kernel goes bottom/right, so the input is padded once beforehand; same FLOPs)."""
    x = torch.rand(batch, cin, size + k - 1, size + k - 1) * 2 - 1
    w = torch.rand(cout, cin, k, k) * 0.2 - 0.1
    gy = torch.rand(batch, cout, size, size) * 2 - 1
    if channels_last:
        x, w, gy = (t.contiguous(memory_format=torch.channels_last) for t in (x, w, gy))
    conv_args = ([1, 1], [0, 0], [1, 1], False, [0, 0], 1)  # stride, padding, dilation, transposed, output_padding, groups

    def backward(mask):
        return torch.ops.aten.convolution_backward(gy, x, w, None, *conv_args, mask)

    with torch.no_grad():
        fwd = median_ms(runs, lambda: F.conv2d(x, w))
        dx = median_ms(runs, lambda: backward([True, False, False]))
        dw = median_ms(runs, lambda: backward([False, True, False]))
    return fwd, dx, dw


def tapegrad_passes(binary, args):
    cmd = [binary, "--filters", str(args.filters), "--batch", str(args.batch), "--size", str(args.size), "--classes",
           str(args.classes), "--runs", str(args.runs), "--threads", str(args.threads), "--cpu-time", str(int(args.cpu_time))]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE")).stdout
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^(\S+ \S+(?: [ab])?)\s+\S+ -> \S+\s+([\d.]+)\s+[\d.]+\s+([\d.]+)\s+[\d.]+\s+([\d.]+)", line)
        if m:
            rows[m.group(1)] = tuple(float(m.group(i)) for i in (2, 3, 4))
    return rows


def median_passes(runs):
    """Per layer, the median over several runs of tapegrad_passes of each pass's ms."""
    return {name: tuple(statistics.median(run[name][i] for run in runs) for i in range(3)) for name in runs[0]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--classes", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cpu-time", action="store_true", help="time the process's CPU time, not the wall clock")
    p.add_argument("--channels-last", action="store_true", help="time PyTorch in channels_last instead of NCHW")
    p.add_argument("--tapegrad", default=os.path.join(os.path.dirname(__file__), "..", "build", "bench_conv_bench"),
                   help="the bench_conv_bench binary to run (default: build/bench_conv_bench)")
    p.add_argument("--baseline", help="an older bench_conv_bench to show beside it (before / after)")
    p.add_argument("--rounds", type=int, default=3, help="with --baseline: alternating runs of both builds")
    args = p.parse_args()
    if args.size % 16 or args.size < 16:
        sys.exit("conv_layers_vs_torch.py: --size must be a multiple of 16 (four poolings)")
    for binary in (args.tapegrad, args.baseline):
        if binary and not os.path.exists(binary):
            sys.exit(f"conv_layers_vs_torch.py: no {binary}; build it (cmake --build build --target bench_conv_bench)")
    global clock
    if args.cpu_time:
        clock = time.process_time
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.baseline:
        runs = [(tapegrad_passes(args.baseline, args), tapegrad_passes(args.tapegrad, args)) for _ in range(args.rounds)]
        before, ours = median_passes([r[0] for r in runs]), median_passes([r[1] for r in runs])
    else:
        ours = tapegrad_passes(args.tapegrad, args)
    layout = "channels_last" if args.channels_last else "NCHW"
    print(f"U-Net convolutions, filters {args.filters}, batch {args.batch}, {args.size}x{args.size}, float32, "
          f"{args.threads} threads, median of {args.runs} ({'CPU time' if args.cpu_time else 'wall clock'}); GFLOP/s, tapegrad (tg) vs PyTorch {torch.__version__} {layout}")
    if args.baseline:
        print(f"before: {args.baseline}, after: {args.tapegrad}, alternating, medians of {args.rounds} rounds")
        print(f"{'layer':14} {'in -> out':>18} | " + " | ".join(
            f"{p + ' before':>10} {'after':>6} {'x':>5} {'torch':>6} {'ratio':>5}" for p in ("fwd", "dx", "dw")))
    else:
        print(f"{'layer':14} {'in -> out':>18} | {'fwd tg':>7} {'torch':>7} {'ratio':>5} | {'dx tg':>7} {'torch':>7} "
              f"{'ratio':>5} | {'dw tg':>7} {'torch':>7} {'ratio':>5}")
    totals = [[0.0, 0.0, 0.0] for _ in range(3)]
    for name, div, cin, cout, k in unet_shapes(args.filters, args.classes):
        s = args.size // div
        flops = 2.0 * args.batch * s * s * cout * cin * k * k
        theirs = torch_passes(args.batch, s, cin, cout, k, args.runs, args.channels_last)
        cells = []
        for i, (tg_ms, torch_ms) in enumerate(zip(ours[name], theirs)):
            totals[i][0] += tg_ms
            totals[i][1] += torch_ms
            gf = lambda ms: flops / ms * 1e-6
            if args.baseline:
                before_ms = before[name][i]
                totals[i][2] += before_ms
                cells.append(f"{gf(before_ms):10.1f} {gf(tg_ms):6.1f} {before_ms / tg_ms:5.2f} {gf(torch_ms):6.1f} "
                             f"{torch_ms / tg_ms:5.2f}")
            else:
                cells.append(f"{gf(tg_ms):7.1f} {gf(torch_ms):7.1f} {torch_ms / tg_ms:5.2f}")
        print(f"{name:14} {f'{s}x{s}x{cin} -> {cout}':>18} | " + " | ".join(cells))
    if args.baseline:
        print(f"{'total ms':14} {'':>18} | " + " | ".join(
            f"{t[2]:10.1f} {t[0]:6.1f} {t[2] / t[0]:5.2f} {t[1]:6.1f} {t[1] / t[0]:5.2f}" for t in totals))
        print("GFLOP/s; x = before time / after time; ratio = PyTorch time / after time (above 1: faster); the first "
              "layer's input gradient is never needed in training")
    else:
        print(f"{'total ms':14} {'':>18} | " + " | ".join(f"{t[0]:7.1f} {t[1]:7.1f} {t[1] / t[0]:5.2f}" for t in totals))
        print("ratio = PyTorch time / tapegrad time (above 1: tapegrad is faster); the first layer's input gradient is "
              "never needed in training")


if __name__ == "__main__":
    main()
