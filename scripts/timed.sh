#!/usr/bin/env bash
# timed.sh LABEL RECORD COMMAND...: runs COMMAND, then prints and appends to RECORD one line saying how long it took
# in wall time (make test prints the lines again at the end). Keeps COMMAND's exit status.
set -uo pipefail
label=$1 record=$2
shift 2
start=$(date +%s.%N)
"$@"
status=$?
line=$(awk -v s="$start" -v e="$(date +%s.%N)" -v l="$label" -v st="$status" \
  'BEGIN { t = e - s; printf (t < 60 ? "%s: %.0f seconds%s" : "%s: %.1f minutes%s"), l, (t < 60 ? t : t / 60),
          (st == 0 ? "" : " (failed, exit status " st ")") }')
echo "$line"
mkdir -p "$(dirname "$record")"
echo "$line" >>"$record"
exit $status
