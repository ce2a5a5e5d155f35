#!/usr/bin/env bash
# Threads against processes on one machine, side by side in one run: the 16-filter U-Net, batch 4 at 256x256, the
# mean step of 6 profiled steps, for 1 process x 2 threads (one pass over the batch, and 2 gradient parts: the
# arithmetic 2 processes reproduce) and 2 processes x 1 thread (the sum after backward, this machine's default, and
# overlapped with it). Rounds alternate the four so that a busy host slows them alike; compare medians.
#   bench/mpi_scaling.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
command -v mpirun >/dev/null || { echo "no mpirun: apt-get install openmpi-bin libopenmpi-dev, then rebuild"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(train --filters 16 --size 256 --batch 4 --steps-per-epoch 7 --epochs 1 --profile 6 --synthetic-count 64
        --progress none)
mpi=(mpirun --allow-run-as-root --mca btl self,vader -np 2 -x TAPEGRAD_MPI_OVERLAP)
ms() { sed -n 's/.*a step takes \([0-9.]*\) ms.*/\1/p' "$tmp/$1/profile.txt"; }
for ((i = 1; i <= rounds; i++)); do
  build/tapegrad "${common[@]}" --threads 2 --out "$tmp/a$i" >/dev/null
  build/tapegrad "${common[@]}" --threads 2 --grad-shards 2 --out "$tmp/b$i" >/dev/null
  TAPEGRAD_MPI_OVERLAP=0 "${mpi[@]}" build/tapegrad "${common[@]}" --threads 1 --out "$tmp/c$i" >/dev/null
  TAPEGRAD_MPI_OVERLAP=1 "${mpi[@]}" build/tapegrad "${common[@]}" --threads 1 --out "$tmp/d$i" >/dev/null
  echo "round $i ms/step: 1x2 one pass $(ms a$i), 1x2 2 parts $(ms b$i), 2x1 sum after backward $(ms c$i)," \
       "2x1 overlapped $(ms d$i)"
done
