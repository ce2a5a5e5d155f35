#!/usr/bin/env bash
# Installs the Debian packages tapegrad builds with, only when one is missing (idempotent, quiet when all present).
# g++ brings the AddressSanitizer and UBSan runtimes of `make test`'s sanitizer build. With --fuzz also what
# scripts/fuzz.sh needs: clang, its libFuzzer and sanitizer runtimes (libclang-rt-dev) and its OpenMP (libomp-dev).
# With --deb what `make deb` needs besides: dpkg-shlibdeps (dpkg-dev) and file, which CPack uses for the Depends.
set -euo pipefail
packages=(cmake g++ make pkg-config libeigen3-dev libspdlog-dev libstb-dev doctest-dev libcli11-dev nlohmann-json3-dev)
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
