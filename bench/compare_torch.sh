#!/usr/bin/env bash
# Side-by-side speed of tapegrad and PyTorch (../shared/bench/torch_unet_bench.py, Debian's python3-torch) on the
# same machine. Each round runs tapegrad, PyTorch in NCHW and PyTorch in channels_last, one after the other; the
# medians over ROUNDS are compared with the faster PyTorch layout (which one wins depends on the CPU: NCHW on Zen 3,
# channels_last on recent Intel parts).
#   bench/compare_torch.sh [ROUNDS] [bench flags...]    e.g. bench/compare_torch.sh 3 --filters 16 --batch 2 --size 256
# TAPEGRAD_BASELINE=path/to/another/tapegrad adds that build to every round (before/after a change, side by side).
# TAPEGRAD_FLAGS="--precision bf16" adds flags that only this build's tapegrad takes (not the baseline, not PyTorch).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
shift || true
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--model unet --filters 16 --batch 2 --size 256 --threads 2)
torch_bench=../shared/bench/torch_unet_bench.py
[ -f "$torch_bench" ] || { echo "no $torch_bench: the PyTorch reference lives in the team's shared folder"; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "needs Debian's PyTorch: apt-get install python3-torch"; exit 1; }
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
baseline=${TAPEGRAD_BASELINE:-}
ms() { /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["ms_per_step"])'; }
ours=() base=() nchw=() last=()
for ((i = 1; i <= rounds; i++)); do
  # shellcheck disable=SC2086  # TAPEGRAD_FLAGS is a list of flags
  t=$(build/tapegrad bench "${args[@]}" ${TAPEGRAD_FLAGS:-} --json)
  echo "tapegrad:             $t"
  ours+=("$(echo "$t" | ms)")
  if [ -n "$baseline" ]; then
    b=$("$baseline" bench "${args[@]}" --json)
    echo "baseline:             $b"
    base+=("$(echo "$b" | ms)")
  fi
  p=$(/usr/bin/python3 "$torch_bench" "${args[@]}" --json 2>/dev/null | tail -1)
  echo "torch NCHW:           $p"
  nchw+=("$(echo "$p" | ms)")
  p=$(/usr/bin/python3 "$torch_bench" "${args[@]}" --channels-last --json 2>/dev/null | tail -1)
  echo "torch channels_last:  $p"
  last+=("$(echo "$p" | ms)")
done
/usr/bin/python3 - "${ours[*]}" "${nchw[*]}" "${last[*]}" "${base[*]:-}" <<'PY'
import statistics, sys
med = lambda s: statistics.median(float(x) for x in s.split())
o, n, l = med(sys.argv[1]), med(sys.argv[2]), med(sys.argv[3])
best, layout = (n, "NCHW") if n <= l else (l, "channels_last")
print(f"median ms/step: tapegrad {o:.1f}, torch NCHW {n:.1f}, torch channels_last {l:.1f}")
if sys.argv[4].strip():
    b = med(sys.argv[4])
    print(f"baseline tapegrad {b:.1f}: baseline/tapegrad = {b / o:.2f} (above 1: this build is faster)")
print(f"faster torch ({layout}) / tapegrad = {best / o:.2f} (above 1: tapegrad is faster)")
PY
