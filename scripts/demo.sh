#!/usr/bin/env bash
# make demo: for now, the autograd example (the U-Net training demo replaces it when training lands).
set -euo pipefail
build=${1:-build}
"$build/example_custom_op"
