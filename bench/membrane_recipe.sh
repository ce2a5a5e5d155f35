#!/usr/bin/env bash
# Issue 16's bar, measured in one go: trains the README's membrane recipe (images 25-29 held out, filters 16,
# 256x256, batch 2) through the command line, times its whole run (loading, validation, checkpoints and the report
# included), times PyTorch's training step on the same machine just before and just after it
# (../shared/bench/torch_unet_bench.py, the faster of NCHW and channels_last each time, and the faster of the two
# times, so PyTorch gets the benefit of any doubt), and scores the best val_loss checkpoint on the held-out images at
# 256x256 and at 512x512, with and without test-time augmentation.
#   [EPOCHS=N] [PRECISION=float32|bf16] bench/membrane_recipe.sh [SEED] [more train flags...]
#   e.g. bench/membrane_recipe.sh 2                 (the README's recipe, seed 2: 20 epochs of 100 steps, bf16 where
#                                                    this CPU has AMX, float32 otherwise)
#        PRECISION=float32 bench/membrane_recipe.sh 1 --workers 2
# Writes runs/membrane-recipe-sSEED (replaced if there) and prints a summary at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-1}
shift || true
data=../shared/datasets/membrane/train
torch_bench=../shared/bench/torch_unet_bench.py
[ -d "$data" ] || { echo "no $data: the membrane set lives in the team's shared folder"; exit 1; }
[ -f "$torch_bench" ] || { echo "no $torch_bench: the PyTorch reference lives in the team's shared folder"; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null ||
  { echo "needs Debian's PyTorch: apt-get install python3-torch"; exit 1; }
[ -x build/tapegrad ] || { echo "no build/tapegrad: build first (make build)"; exit 1; }
threads=$(nproc)
out=runs/membrane-recipe-s$seed
torch_ms() {  # the faster layout's ms per step
  local a b
  a=$(/usr/bin/python3 "$torch_bench" --model unet --filters 16 --batch 2 --size 256 --threads "$threads" --steps 10 \
      --json 2>/dev/null | tail -1)
  b=$(/usr/bin/python3 "$torch_bench" --model unet --filters 16 --batch 2 --size 256 --threads "$threads" --steps 10 \
      --channels-last --json 2>/dev/null | tail -1)
  /usr/bin/python3 -c 'import json,sys; print(min(json.loads(s)["ms_per_step"] for s in sys.argv[1:]))' "$a" "$b"
}
before=$(torch_ms)
echo "PyTorch step before: $before ms"
precision=${PRECISION:-}
if [ -z "$precision" ]; then  # bf16 where this CPU has AMX (the bench refuses it otherwise), float32 elsewhere
  precision=float32
  build/tapegrad bench --model unet --filters 16 --batch 2 --size 64 --steps 1 --warmup 0 --precision bf16 \
    >/dev/null 2>&1 && precision=bf16
fi
start=$(date +%s.%N)
build/tapegrad train --data "$data" --val-names 25-29 --filters 16 --size 256 --fit resize --interpolation nearest \
  --random-phase --augment --batch-norm --loss ce+dice --schedule cosine --batch 2 --epochs "${EPOCHS:-20}" \
  --steps-per-epoch 100 \
  --precision "$precision" --class-names membrane,cell --seed "$seed" --threads "$threads" --progress lines \
  --out "$out" --overwrite "$@"
wall=$(/usr/bin/python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" \
  "$start" "$(date +%s.%N)")
echo "tapegrad's run: $wall s wall"
after=$(torch_ms)
echo "PyTorch step after: $after ms"
score() {
  build/tapegrad evaluate --checkpoint "$out/checkpoints/best.safetensors" --data "$data" --names 25-29 \
    --interpolation nearest --json "$@" | tail -1 |
    /usr/bin/python3 -c 'import json,sys; print("%.4f" % json.loads(sys.stdin.read())["dice_0"])'
}
d=$(score) dt=$(score --tta) f=$(score --full-size) ft=$(score --full-size --tta)
steps=$(tail -1 "$out/metrics.jsonl" |
  /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["global_step"])')
/usr/bin/python3 - "$wall" "$before" "$after" "$steps" "$d" "$dt" "$f" "$ft" "$out" "$precision" <<'PY'
import sys
wall, before, after = (float(x) for x in sys.argv[1:4])
steps, d, dt, f, ft, out, precision = sys.argv[4:]
torch = 1500 * min(before, after) / 1000
print(f"\n{out}: {steps} steps ({precision}) in {wall:.0f} s wall ({wall / 60:.1f} min), everything included")
print(f"PyTorch's 1,500-step recipe, steps alone: 1500 x {min(before, after):.1f} ms = {torch:.0f} s"
      f" ({torch / 60:.1f} min); tapegrad / PyTorch wall = {wall / torch:.2f} (below 1: tapegrad is quicker)")
print("membrane (class 0) Dice on images 25-29, best val_loss checkpoint:")
print(f"  256x256 labels {d}, with --tta {dt}; 512x512 (--full-size) {f}, with --tta {ft}")
PY
