#!/usr/bin/env bash
# Renders RUN_DIR/report.html to a PNG with headless Chromium (no network, throwaway profile), e.g. for docs/.
#
#   scripts/screenshot_report.sh RUN_DIR [OUT.png]      (default OUT: RUN_DIR/report.png)
#
# Chromium comes from Debian: apt-get install -y chromium. WIDTH and HEIGHT set the window (default 1400x2000).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || ! -d "$1" ]]; then
  echo "usage: $0 RUN_DIR [OUT.png]   (RUN_DIR: a tapegrad train run folder holding report.html)" >&2
  exit 2
fi
run=$(cd "$1" && pwd)
report="$run/report.html"
out=${2:-$run/report.png}
if [[ ! -f "$report" ]]; then
  echo "$0: $report does not exist: the run writes it after its first epoch" >&2
  exit 1
fi
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [[ -z "$chromium" ]]; then
  echo "$0: chromium not found; install it with: apt-get install -y chromium (or set CHROMIUM=/path/to/it)" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
  --window-size="${WIDTH:-1400},${HEIGHT:-2000}" --screenshot="$out" "file://$report" >"$profile/chromium.log" 2>&1 || {
  cat "$profile/chromium.log" >&2
  exit 1
}
if [[ ! -s "$out" ]]; then
  cat "$profile/chromium.log" >&2
  echo "$0: chromium wrote no screenshot" >&2
  exit 1
fi
echo "$out"
