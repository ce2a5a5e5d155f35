#!/usr/bin/env bash
# Thread scaling of a training (or inference) step: `tapegrad bench` on 1 thread and on 2 threads, run back to back
# and alternating for ROUNDS rounds (on a machine shared with other jobs, a slow spell then hits both), then the
# median images/s of each and the ratio 2 threads / 1 thread. It also prints each run's CPU time (user + sys of the
# whole run, model set-up included) per image stepped (warm-up steps included): on a loaded machine, where the second
# thread often finds no free core and the wall-clock ratio says little, CPU time per image that stays flat from 1 to
# 2 threads shows the work was split without extra work or spinning.
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
steps=5 warmup=2  # tapegrad bench's defaults
for ((k = 0; k + 1 < ${#args[@]}; k++)); do
  case "${args[k]}" in --steps) steps=${args[k + 1]} ;; --warmup) warmup=${args[k + 1]} ;; esac
done
cpu_file=$(mktemp)
trap 'rm -f "$cpu_file"' EXIT
rate=([1]="" [2]="") cpu=([1]="" [2]="")
for ((i = 1; i <= rounds; i++)); do
  for threads in 1 2; do
    r=$(OMP_WAIT_POLICY=PASSIVE /usr/bin/time -o "$cpu_file" -f "%U %S" "$tapegrad" bench "${args[@]}" --threads "$threads" --json)
    images=$(($(echo "$r" | field batch) * (steps + warmup)))
    per_image=$(awk '{printf "%.3f", ($1 + $2) / n}' n="$images" "$cpu_file")
    echo "$threads thread(s): CPU ${per_image} s per image; $r"
    rate[$threads]+=" $(echo "$r" | field images_per_s)"
    cpu[$threads]+=" $per_image"
  done
done
/usr/bin/python3 - "${rate[1]}" "${rate[2]}" "${cpu[1]}" "${cpu[2]}" <<'PY'
import statistics, sys
one, two, cpu1, cpu2 = (statistics.median(float(x) for x in s.split()) for s in sys.argv[1:5])
print(f"median images/s: 1 thread {one:.3f}, 2 threads {two:.3f}, 2 threads / 1 thread = {two / one:.2f}")
print(f"median CPU s per image: 1 thread {cpu1:.3f}, 2 threads {cpu2:.3f} (ratio {cpu2 / cpu1:.2f})")
PY
