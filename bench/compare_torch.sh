#!/usr/bin/env bash
# Side-by-side speed of tapegrad and PyTorch (../shared/bench/torch_unet_bench.py, Debian's python3-torch) on the
# same machine: the two programs alternate ROUNDS times and the medians of their medians are compared.
#   bench/compare_torch.sh [ROUNDS] [bench flags...]    e.g. bench/compare_torch.sh 3 --filters 16 --batch 2 --size 256
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
ours=() theirs=()
for ((i = 1; i <= rounds; i++)); do
  t=$(build/tapegrad bench "${args[@]}" --json)
  p=$(/usr/bin/python3 "$torch_bench" "${args[@]}" --json 2>/dev/null | tail -1)
  echo "tapegrad: $t"
  echo "torch:    $p"
  ours+=("$(echo "$t" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ms_per_step"])')")
  theirs+=("$(echo "$p" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ms_per_step"])')")
done
/usr/bin/python3 - "${ours[*]}" "${theirs[*]}" <<'PY'
import statistics, sys
ours = [float(x) for x in sys.argv[1].split()]
theirs = [float(x) for x in sys.argv[2].split()]
o, t = statistics.median(ours), statistics.median(theirs)
print(f"median ms/step: tapegrad {o:.1f}, torch {t:.1f}; torch/tapegrad = {t / o:.2f} (above 1: tapegrad is faster)")
PY
