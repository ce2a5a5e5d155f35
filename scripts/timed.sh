#!/usr/bin/env bash
# timed.sh LABEL RECORD COMMAND...: runs COMMAND, then prints and appends to RECORD one line saying how many minutes
# of wall time it took (make test prints the build's and the tests' lines again at the end). Keeps COMMAND's status.
set -uo pipefail
label=$1 record=$2
shift 2
start=$(date +%s.%N)
"$@"
status=$?
line=$(awk -v s="$start" -v e="$(date +%s.%N)" -v l="$label" -v st="$status" \
  'BEGIN { printf "%s: %.1f minutes%s", l, (e - s) / 60, (st == 0 ? "" : " (failed, exit status " st ")") }')
echo "$line"
mkdir -p "$(dirname "$record")"
echo "$line" >>"$record"
exit $status
