#!/usr/bin/env bash
# Thread scaling of a training (or inference) step: `tapegrad bench` on 1 thread and on 2 threads, run back to back
# and alternating for ROUNDS rounds (on a machine shared with other jobs, a slow spell then hits both), then the
# median images/s of each and the ratio 2 threads / 1 thread.
#   bench/thread_scaling.sh [ROUNDS] [bench flags...]    e.g. bench/thread_scaling.sh 3 --filters 16 --batch 2
# TAPEGRAD=path/to/tapegrad times another build (default: build/tapegrad).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
shift || true
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--model unet --filters 16 --batch 2 --size 256)
tapegrad=${TAPEGRAD:-build/tapegrad}
field() { /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])[sys.argv[1]])' "$1"; }
one=() two=()
for ((i = 1; i <= rounds; i++)); do
  for threads in 1 2; do
    r=$(OMP_WAIT_POLICY=PASSIVE "$tapegrad" bench "${args[@]}" --threads "$threads" --json)
    echo "$threads thread(s): $r"
    if [ "$threads" = 1 ]; then one+=("$(echo "$r" | field images_per_s)"); else two+=("$(echo "$r" | field images_per_s)"); fi
  done
done
/usr/bin/python3 - "${one[*]}" "${two[*]}" <<'PY'
import statistics, sys
one, two = (statistics.median(float(x) for x in s.split()) for s in sys.argv[1:3])
print(f"median images/s: 1 thread {one:.3f}, 2 threads {two:.3f}, 2 threads / 1 thread = {two / one:.2f}")
PY
