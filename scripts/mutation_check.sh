#!/usr/bin/env bash
# Mutation check: does the test suite notice small, plausible bugs? Each mutation below edits one library file (an
# exact piece of text replaced by another), rebuilds the test programs that cover it, runs the tests meant to catch
# it (ctest -R), and puts the file back. A mutation is "caught" when those tests fail. A mutation whose text is no
# longer in the file (the code moved on) is reported loudly as STALE, and one that does not compile as BROKEN: both
# count as failures of this script, so it cannot rot silently. Not part of ctest (one rebuild per mutation).
#
#   scripts/mutation_check.sh [BUILD_DIR] [NAME_REGEX]     (BUILD_DIR default: build, configured already)
#
# Exit status 0 when every selected mutation was caught.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd) || { echo "no build folder; configure one first" >&2; exit 2; }
only=${2:-.}
jobs=${MUTATION_JOBS:-2}
work=$(mktemp -d)
backup=""
backup_of=""
restore() {
  if [[ -n "$backup" ]]; then
    cp "$backup" "$backup_of"
    backup=""
  fi
}
trap 'restore; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

rows=()
failures=0

# mutation NAME FILE TEST_REGEX TARGETS OLD NEW [OLD NEW ...]   (each OLD must occur in FILE; its first
# occurrence becomes NEW)
mutation() {
  local name=$1 file=$2 tests=$3 targets=$4
  shift 4
  [[ "$name" =~ $only ]] || return 0
  local path="$root/$file" result
  printf '%-42s ' "$name"
  if ! python3 - "$path" "$@" <<'EOF'
import sys
path, pairs = sys.argv[1], sys.argv[2:]
text = open(path).read()
for old, new in zip(pairs[::2], pairs[1::2]):
    if old not in text:
        sys.exit(f"the text {old!r} is no longer in {path}")
    text = text.replace(old, new, 1)
open(path + ".mutated", "w").write(text)
EOF
  then
    result="STALE (text not found: update this script)"
  else
    backup="$work/backup"
    backup_of="$path"
    cp "$path" "$backup"
    mv "$path.mutated" "$path"
    # shellcheck disable=SC2086
    if ! cmake --build "$build" -j "$jobs" --target $targets >"$work/build.log" 2>&1; then
      result="BROKEN (does not compile: $(grep -m1 'error' "$work/build.log"))"
    else
      (cd "$build" && OMP_WAIT_POLICY=PASSIVE ctest -j "$jobs" -R "$tests" >"$work/test.log" 2>&1)
      local rc=$?
      local ran
      ran=$(grep -oE '[0-9]+ tests? failed out of [0-9]+|100% tests passed, 0 tests failed out of [0-9]+' "$work/test.log" | tail -1)
      if grep -q 'No tests were found' "$work/test.log"; then
        result="NO TESTS match '$tests'"
      elif ((rc != 0)); then
        result="caught ($ran)"
      else
        result="SURVIVED ($ran)"
      fi
    fi
    restore
  fi
  [[ "$result" == caught* ]] || failures=$((failures + 1))
  echo "$result"
  rows+=("| $name | \`$file\` | \`$tests\` | $result |")
}

A="test_autograd" L="test_layers" O="test_optim" D="test_data" T="test_train" P="test_apps"

mutation "same padding: sides swapped" autograd/ops/conv_family.cpp '^autograd/(conv2d|pool2d)' "$A" \
  'return {total / 2, total - total / 2};' 'return {total - total / 2, total / 2};'
mutation "BN: Bessel correction dropped" autograd/ops/batch_norm.cpp '^autograd/batch_norm' "$A" \
  '? static_cast<double>(rows) / static_cast<double>(std::max<int64_t>(rows - 1, 1))' '? 1.0'
mutation "BN: Bessel floor at one row gone" autograd/ops/batch_norm.cpp '^autograd/batch_norm' "$A" \
  'std::max<int64_t>(rows - 1, 1)' '(rows - 1)'
mutation "Adam: epsilon placed the PyTorch way" optim/adam.cpp '^optim/' "$O" \
  'w[i] -= (m[i] * a) / (std::sqrt(v[i]) + eps);' \
  'w[i] -= (m[i] * a) / (std::sqrt(v[i]) + eps * static_cast<T>(std::sqrt(1.0 - std::pow(options_.beta_2, t))));'
mutation "reduction chunks = thread count" autograd/kernels/deterministic_sums.h '^autograd/threads' "$A" \
  '#include <vector>' $'#include <vector>\n#include <omp.h>' \
  'const int64_t chunks = std::min<int64_t>(kReduceChunks, std::max<int64_t>(rows, 1));' \
  'const int64_t chunks = std::min<int64_t>(omp_get_max_threads(), std::max<int64_t>(rows, 1));'
mutation "conv bias gradient: last row left out" autograd/ops/unary.cpp '^autograd/(conv2d|threads)' "$A" \
  'return v;' 'return r + 1 < rows ? v : T(0);'
mutation "direct 3x3: third tap takes the second's weights" autograd/kernels/conv_direct_3x3.cpp \
  '^autograd/conv special' "$A" 'if (j >= 2) acc[j - 2] += v * w2;' 'if (j >= 2) acc[j - 2] += v * w1;'
mutation "dropout mask: keeps every unit" autograd/ops/dropout.cpp '^autograd/dropout' "$A" \
  'const Bits mask = Bits(0) - static_cast<Bits>(keep);' 'const Bits mask = ~Bits(0);'
mutation "avg pool counts the padding" autograd/ops/pool2d.cpp '^autograd/pool2d' "$A" \
  'const auto count = static_cast<T>((y1 - y0) * (x1 - x0));' \
  'const auto count = static_cast<T>(g.ph * g.pw);'
mutation "class weights ignored (sparse CE)" autograd/ops/losses.cpp '^(train/loss|train/fit: class)' "$A $T" \
  'const double wr = pw ? pw[r] : w[static_cast<size_t>(k)];' 'const double wr = pw ? pw[r] : 1.0;' \
  'const double wr = pw ? pw[r] : w[static_cast<size_t>(k)];' 'const double wr = pw ? pw[r] : 1.0;'
mutation "loader: shuffle off by one (Sattolo)" data/loader.cpp '^data/loader' "$D" \
  'order[rng.uniform_int(i)]' 'order[rng.uniform_int(i - 1)]'
mutation "loader: biased shuffle" data/loader.cpp '^data/loader' "$D" \
  'order[rng.uniform_int(i)]' 'order[rng.uniform_int(order.size())]'
mutation "nearest resize: no half-pixel centre" data/resize.cpp '^data/(resize|folder)' "$D" \
  'std::floor((x + 0.5) * W / static_cast<double>(out_w))' 'std::floor((x + 1.0) * W / static_cast<double>(out_w))'
mutation "mask: 16-bit palette looked up raw" data/mask.cpp '^data/mask' "$D" \
  'lookup.find(pack(r / scale, g / scale, b / scale))' 'lookup.find(pack(r, g, b))'
mutation "mask: binary ignores the ignore value" data/mask.cpp '^data/mask' "$D" \
  'const bool ignored = rules.ignore_index >= 0 && r == rules.ignore_index * scale;' 'const bool ignored = false;'
mutation "augment: horizontal flip mirrors rows" data/augment.cpp '^data/augment' "$D" \
  $'flip(s.image, false);\n    for (Tensor* map : label_maps(s)) flip(*map, false);' \
  $'flip(s.image, true);\n    for (Tensor* map : label_maps(s)) flip(*map, true);'
mutation "tile: window cut one column off" train/predict.cpp '^train/inference' "$T" \
  'data::crop(padded, tiles[first + t].first, tiles[first + t].second, size_h, size_w)' \
  'data::crop(padded, tiles[first + t].first, std::max(0, tiles[first + t].second - 1), size_h, size_w)'
mutation "metric log: rewrite keeps old JSONL" train/metric_log.cpp '^train/metric log' "$T" \
  'write_file_atomically(jsonl_, jsonl);' '(void)jsonl;'
mutation "resume: plateau wait not restored" optim/schedule.cpp '^train/fit: killed inside' "$T" \
  'wait_ = state.at("wait").get<int>();' 'wait_ = 0;'
mutation "resume: early-stopping wait not restored" train/early_stopping.cpp '^train/fit: killed inside' "$T" \
  'j.at("wait").get<int>()};' '0};'
mutation "resume: torn temporaries left behind" train/checkpoint.cpp '^train/(fit: killed inside|checkpoint)' "$T" \
  '(name.find(".tmp-") != std::string::npos ||' '(false ||'
mutation "restore_best_weights skipped" train/early_stopping.cpp '^train/fit: early stopping' "$T" \
  'model.load_weights(best_weights_, "the weights kept at epoch " + epoch);' '(void)model;'

# Leave the build matching the sources again.
cmake --build "$build" -j "$jobs" --target $A $L $O $D $T $P >/dev/null 2>&1

echo
echo "| mutation | file | tests run | result |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
if ((failures > 0)); then
  echo "$failures mutation(s) not caught (or stale/broken)"
  exit 1
fi
echo "all ${#rows[@]} mutations caught"
