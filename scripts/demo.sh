#!/usr/bin/env bash
# make demo: train the seed U-Net architecture (narrowed: 16 filters at the first level instead of 64, 96x96 inputs)
# on the built-in synthetic shapes, then segment new images with it and score them. Everything lands in runs/demo.
set -euo pipefail
build=${1:-build}
tapegrad="$build/tapegrad"
run=runs/demo
rm -rf "$run"
mkdir -p runs

echo "== 1. train: seed U-Net (depth 4, 16 base filters) on 512 synthetic 96x96 images, 3 classes"
"$tapegrad" train --data synthetic --model unet --filters 16 --depth 4 --size 96 --classes 3 \
  --synthetic-count 512 --val-split 0.1 --epochs 5 --batch 8 --augment --seed 1 --out "$run"

echo "== 2. new images the model has never seen (another seed), written as PNG folders"
"$tapegrad" synth --out "$run/new-images" --count 12 --size 96 --classes 3 --seed 2026

echo "== 3. predict: masks and overlays"
"$tapegrad" predict --checkpoint "$run/checkpoints/best.safetensors" --input "$run/new-images/images" \
  --out "$run/predictions"

echo "== 4. evaluate on the new images"
"$tapegrad" evaluate --checkpoint "$run/checkpoints/best.safetensors" --data "$run/new-images" --mask index

echo
echo "Done. Open $run/report.html (curves, validation samples, model, configuration);"
echo "masks and overlays are in $run/predictions."
