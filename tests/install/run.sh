#!/usr/bin/env bash
# The installed library, used as a user would (ctest: install/downstream). Installs BUILD_DIR into a temporary
# prefix, builds tests/install (find_package(tapegrad), a tiny U-Net trained, its checkpoint reloaded) against it and
# runs it, then compiles pkgconfig_main.cpp with nothing but `pkg-config --cflags --libs tapegrad` and runs that.
# The source tree is not on any include path: a header the install left out fails the build.
#
#   tests/install/run.sh BUILD_DIR [CXX]
set -euo pipefail
build=$(cd "$1" && pwd)
cxx=${2:-c++}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tapegrad-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== cmake --install $build --prefix $work/prefix"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
test -x "$work/prefix/bin/tapegrad"
"$work/prefix/bin/tapegrad" --help >/dev/null

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
echo "== downstream CMake project (find_package(tapegrad CONFIG REQUIRED))"
cmake -S "$here" -B "$work/downstream" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_PREFIX_PATH="$work/prefix" "${launcher[@]}" >/dev/null
cmake --build "$work/downstream" >/dev/null
OMP_NUM_THREADS=1 "$work/downstream/train_tiny_unet" "$work/run"
test -f "$work/run/checkpoints/last.safetensors"

echo "== pkg-config --cflags --libs tapegrad"
pc_dir=$(dirname "$(find "$work/prefix" -name tapegrad.pc)")  # PREFIX/lib/pkgconfig, or lib/<multiarch>/pkgconfig
lib_dir=$(dirname "$pc_dir")
export PKG_CONFIG_PATH="$pc_dir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
flags=$(pkg-config --cflags --libs tapegrad)
echo "$flags"
# shellcheck disable=SC2086  # the flags are words
"$cxx" -O1 "$here/pkgconfig_main.cpp" -o "$work/pkgconfig_main" $flags
# -L without an rpath: a shared libtapegrad (TAPEGRAD_SHARED) is found through the loader's path.
LD_LIBRARY_PATH="$lib_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OMP_NUM_THREADS=1 "$work/pkgconfig_main"
echo "install test passed"
