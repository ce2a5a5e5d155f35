#!/usr/bin/env bash
# Installs the Debian packages tapegrad builds with, only when one is missing (idempotent, quiet when all present).
# ONNX export (libonnx-dev, protobuf), Keras files (libhdf5-dev) and MPI training (Open MPI) are part of the build.
# g++ brings the AddressSanitizer and UBSan runtimes of `make test`'s sanitizer build. With --fuzz also what
# scripts/fuzz.sh needs: clang, its libFuzzer and sanitizer runtimes (libclang-rt-dev) and its OpenMP (libomp-dev).
# With --deb what `make deb` needs besides: dpkg-shlibdeps (dpkg-dev) and file, which CPack uses for the Depends.
set -euo pipefail
packages=(cmake g++ make pkg-config libeigen3-dev libspdlog-dev libstb-dev doctest-dev libcli11-dev nlohmann-json3-dev
          libonnx-dev libprotobuf-dev libhdf5-dev libopenmpi-dev openmpi-bin)
packages+=(libzip-dev)  # .keras archives (zip) for the Keras import
# The tests' own tools: Keras-layout HDF5 fixtures (h5py) and ONNX Runtime from npm (node, npm; a Node.js from
# elsewhere, such as NodeSource's, which brings its own npm, is used as it is).
packages+=(python3-h5py)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
[ "${1:-}" = "--fuzz" ] && packages+=(clang libclang-rt-dev libomp-dev)
[ "${1:-}" = "--deb" ] && packages+=(dpkg-dev file)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
