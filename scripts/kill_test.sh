#!/usr/bin/env bash
# scripts/kill_test.sh N [TAPEGRAD]: the crash test of checkpoints and exact resume. Trains a tiny U-Net on the
# built-in synthetic set with a checkpoint after every step, kills it with SIGKILL at N random moments (uniform over
# 0..MAX_DELAY seconds after each start, so also inside checkpoint writes, during resumes and during start-up) and
# resumes it each time (`train --resume`; a fresh `--out --overwrite` when it died before its first checkpoint).
# After every kill each *.safetensors file in the checkpoint folder must load (`tapegrad summary --checkpoint`, which
# verifies the checksum). A run that reaches its end must hold final weights and optimizer state bit-identical to an
# uninterrupted run's (every tensor compared byte for byte); then a new round starts, until N kills are done.
# A kill counts as inside a checkpoint write when the atomic writer's temporary file (.NAME.tmp-XXXXXX or
# .NAME.link-PID) is present after the process died. Prints the counts; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:?usage: $0 N [path/to/tapegrad]}
TAPEGRAD=$(realpath "${2:-build/tapegrad}")
MAX_DELAY=${MAX_DELAY:-0.8}
[ -x "$TAPEGRAD" ] || { echo "no tapegrad at $TAPEGRAD (build it first)" >&2; exit 2; }
work=$(mktemp -d /tmp/tapegrad-kill-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMP_WAIT_POLICY=PASSIVE

train_flags=(--filters 4 --depth 2 --size 32 --synthetic-count 32 --batch 4 --epochs 6 --checkpoint-every 1
             --keep-last 2 --seed 7 --progress none)

# The tensors of a safetensors file (names, dtypes, shapes, bytes) as one hash; not the metadata, which holds times.
tensor_digest() {
  python3 - "$1" <<'PY'
import hashlib, json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
header.pop("__metadata__", None)
h = hashlib.sha256()
for name in sorted(header):
    begin, end = header[name]["data_offsets"]
    h.update(json.dumps([name, header[name]["dtype"], header[name]["shape"]]).encode())
    h.update(data[8 + n + begin:8 + n + end])
print(h.hexdigest())
PY
}

"$TAPEGRAD" train "${train_flags[@]}" --threads 1 --out "$work/reference" >/dev/null
reference=$(tensor_digest "$work/reference/checkpoints/last.safetensors")

kills=0 in_write=0 checked=0 rounds=0 fresh_starts=0 resumes=0
start_run() {  # start_run DIR: resume when the folder has a checkpoint, otherwise start it (again)
  local threads=$((RANDOM % 2 + 1))
  if compgen -G "$1/checkpoints/*.safetensors" >/dev/null; then
    resumes=$((resumes + 1))
    "$TAPEGRAD" train --resume "$1" --threads "$threads" >"$work/out.txt" 2>&1 &
  else
    fresh_starts=$((fresh_starts + 1))
    "$TAPEGRAD" train "${train_flags[@]}" --threads "$threads" --out "$1" --overwrite >"$work/out.txt" 2>&1 &
  fi
  pid=$!
}

# A run that ends by itself must exit 0; one killed is checked, then resumed (until N kills, then left to finish).
while [ "$kills" -lt "$N" ]; do
  rounds=$((rounds + 1))
  run=$work/round-$rounds
  start_run "$run"
  while :; do
    if [ "$kills" -lt "$N" ]; then
      sleep "$(awk -v m="$MAX_DELAY" -v s="$RANDOM$RANDOM" 'BEGIN { srand(s); printf "%.3f", rand() * m }')"
    fi
    if [ "$kills" -lt "$N" ] && kill -9 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      kills=$((kills + 1))
      if compgen -G "$run/checkpoints/.*.tmp-*" >/dev/null || compgen -G "$run/checkpoints/.*.link-*" >/dev/null; then
        in_write=$((in_write + 1))
      fi
      for f in "$run"/checkpoints/*.safetensors; do
        [ -e "$f" ] || continue
        if ! "$TAPEGRAD" summary --checkpoint "$f" >/dev/null 2>"$work/summary.txt"; then
          echo "FAIL: after kill $kills, $f does not load:" >&2
          cat "$work/summary.txt" >&2
          exit 1
        fi
        checked=$((checked + 1))
      done
      start_run "$run"
      continue
    fi
    status=0
    wait "$pid" || status=$?
    if [ "$status" -ne 0 ]; then
      echo "FAIL: a run of round $rounds exited with status $status:" >&2
      tail -5 "$work/out.txt" >&2
      exit 1
    fi
    break
  done
  digest=$(tensor_digest "$run/checkpoints/last.safetensors")
  if [ "$digest" != "$reference" ]; then
    echo "FAIL: round $rounds ended with other weights than the uninterrupted run ($digest, not $reference)" >&2
    exit 1
  fi
done
echo "kill test: $kills kills (SIGKILL), $in_write of them inside a checkpoint write; $resumes resumes and" \
     "$fresh_starts starts from nothing (one per round, more after a kill before the first checkpoint);" \
     "$checked checkpoint files loaded after kills; $rounds rounds, each ending bit-identical to the" \
     "uninterrupted run (tensors $reference)"
