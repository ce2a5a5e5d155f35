#!/usr/bin/env bash
# scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]: builds fuzz/TARGET_fuzz.cpp as a libFuzzer program (Debian's
# clang, AddressSanitizer + UndefinedBehaviorSanitizer, its own build folder build-fuzz/) and fuzzes it for SECONDS,
# one process at low priority. Targets: safetensors, model_json, image, palette, run_config, names (fuzz/*_fuzz.cpp).
# Starts from the committed seeds (fuzz/corpus/TARGET, never written) plus what earlier runs found
# (build-fuzz/corpus/TARGET); a failing input lands in build-fuzz/findings/TARGET/ and the script exits non-zero.
# Replay one with build-fuzz/fuzz/fuzz_TARGET FILE; once fixed, copy it into fuzz/corpus/TARGET/ (as crash-NAME),
# where the replay test fuzz/TARGET-corpus keeps it. Prints the executions and the findings at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  targets=$(ls fuzz/*_fuzz.cpp | sed 's|fuzz/||; s|_fuzz.cpp||' | xargs)
  echo "usage: $0 TARGET SECONDS [libFuzzer flags...]; targets: $targets" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2
[ -f "fuzz/${target}_fuzz.cpp" ] || { echo "no fuzz target fuzz/${target}_fuzz.cpp" >&2; exit 2; }
BUILD=${FUZZ_BUILD:-build-fuzz}

if ! command -v clang++ >/dev/null; then ./scripts/install-deps.sh --fuzz; fi
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_FUZZ=ON -DTAPEGRAD_TESTS=OFF >/dev/null
fi
if ! nice -n 10 cmake --build "$BUILD" -j "${JOBS:-2}" --target "fuzz_${target}" >"$BUILD/build-$target.log" 2>&1; then
  grep -E "error" "$BUILD/build-$target.log" | head -20 >&2
  echo "the build of fuzz_${target} failed; see $BUILD/build-$target.log" >&2
  exit 1
fi

corpus=$BUILD/corpus/$target findings=$BUILD/findings/$target
mkdir -p "$corpus" "$findings"
log=$BUILD/fuzz-$target.log
# One thread for OpenMP (the inputs are small), passive waiting; a single allocation above 1 GiB or an input taking
# more than 10 s is a finding (sizes taken from what a file claims), as is any sanitizer report.
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
started=$(date +%s)
nice -n 10 "$BUILD/fuzz/fuzz_${target}" "$corpus" "fuzz/corpus/$target" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -malloc_limit_mb=1024 -artifact_prefix="$findings/" -print_final_stats=1 "$@" \
  >"$log" 2>&1 || status=$?
elapsed=$(($(date +%s) - started))
runs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" | tail -1)
coverage=$(grep -oE "cov: [0-9]+ ft: [0-9]+" "$log" | tail -1)
found=$(ls -A "$findings" | wc -l)
echo "fuzz_${target}: ${runs:-?} executions in ${elapsed} s (${coverage:-no coverage line})," \
     "corpus $(ls "$corpus" | wc -l) inputs, ${found} finding(s) in $findings; log: $log"
if [ "$status" -ne 0 ] || [ "$found" -gt 0 ]; then
  grep -E "ERROR|FUZZ FINDING|runtime error|SUMMARY|Test unit written" "$log" | head -20 >&2 || true
  exit 1
fi
