#!/usr/bin/env bash
# Inference time of tapegrad beside ONNX Runtime (onnxruntime-node, CPU), the runtime a user would deploy the
# exported model with, on the same machine: each round runs `tapegrad bench --mode infer` and the same model,
# exported by `tapegrad export`, in ONNX Runtime with the same thread count (intraOpNumThreads); medians over ROUNDS.
#   bench/onnxruntime_vs_tapegrad.sh [ROUNDS] [model flags...]
#   e.g. bench/onnxruntime_vs_tapegrad.sh 5 --model unet --batch 1 --size 256 --threads 2   (the default, the seed)
# Needs build/tapegrad and onnxruntime-node in build/onnxruntime (`make onnxruntime`; TAPEGRAD_ONNXRUNTIME_DIR
# points elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
shift || true
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--model unet --batch 1 --size 256 --threads 2)
ort_dir=${TAPEGRAD_ONNXRUNTIME_DIR:-build/onnxruntime}
[ -d "$ort_dir/node_modules/onnxruntime-node" ] ||
  { echo "no onnxruntime-node in $ort_dir: run make onnxruntime"; exit 1; }

# The flags `tapegrad export` takes (the model's), and what sets the input shape and the threads.
batch=2 size=256 channels=1 threads=0 steps=5 export_args=()
for ((i = 0; i < ${#args[@]}; i++)); do
  flag=${args[i]} value=${args[i + 1]:-}
  case "$flag" in
    --batch) batch=$value; ((++i)); continue ;;
    --threads) threads=$value; ((++i)); continue ;;
    --steps) steps=$value; ((++i)); continue ;;
    --warmup) ((++i)); continue ;;
    --size) size=$value ;;
    --channels) channels=$value ;;
  esac
  export_args+=("$flag")
done
work=$(mktemp -d "${TMPDIR:-/tmp}/tapegrad-ort-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
build/tapegrad export "${export_args[@]}" --onnx "$work/model.onnx"

bench_threads=()
[ "$threads" -gt 0 ] && bench_threads=(--threads "$threads")
field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }
ours=() ort=()
for ((r = 1; r <= rounds; r++)); do
  t=$(build/tapegrad bench "${args[@]}" --mode infer --steps "$steps" --json)
  echo "tapegrad:      $t"
  ours+=("$(echo "$t" | field ms_per_step)")
  o=$(node tests/interop/onnxruntime/run_onnx.js --ort-dir "$ort_dir" --model "$work/model.onnx" --input random \
        --shape "$batch,$size,$size,$channels" --threads "$threads" --repeat "$steps")
  echo "onnxruntime:   $o"
  ort+=("$(echo "$o" | field median_ms)")
done
/usr/bin/python3 - "${ours[*]}" "${ort[*]}" <<'PY'
import statistics, sys
med = lambda s: statistics.median(float(x) for x in s.split())
t, o = med(sys.argv[1]), med(sys.argv[2])
print(f"median ms per inference: tapegrad {t:.1f}, ONNX Runtime {o:.1f}; ONNX Runtime / tapegrad = {o / t:.2f} "
      "(above 1: tapegrad is faster)")
PY
