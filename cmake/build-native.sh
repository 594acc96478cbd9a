#!/usr/bin/env bash
# Configures, builds and tests (ctest) native/ with CMake. Called by Maven (generate-resources).
#   build-native.sh SOURCE_DIR BUILD_DIR [AUTO|ON|OFF] [ARCHS] [CLASSES_DIR VERSION]
# With CLASSES_DIR it also writes CLASSES_DIR/lady/build-info.properties (version, git commit),
# read by `lady info`.
set -euo pipefail
src=$1
build=$2
cuda=${3:-AUTO}
archs=${4:-80;90}
classes=${5:-}
version=${6:-unknown}
mkdir -p "$build"
if [ -n "$classes" ]; then
  mkdir -p "$classes/lady"
  commit=$(git -C "$src" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  if [ "$commit" != unknown ] && [ -n "$(git -C "$src/.." status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    commit="$commit-dirty"
  fi
  printf 'version=%s\ncommit=%s\ncuda.setting=%s\n' "$version" "$commit" "$cuda" > "$classes/lady/build-info.properties"
fi
command -v cmake >/dev/null || { echo "lady: cmake (3.25+) is required to build native/" >&2; exit 1; }
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLADY_CUDA="$cuda" "-DLADY_CUDA_ARCHS=$archs" \
      -DCMAKE_MESSAGE_LOG_LEVEL=NOTICE > "$build.configure.log" 2>&1 \
  || { cat "$build.configure.log" >&2; exit 1; }
grep -E "^-- Lady:" "$build.configure.log" || true
cmake --build "$build" -j "$jobs" > "$build.build.log" 2>&1 || { cat "$build.build.log" >&2; exit 1; }
if [ "${LADY_SKIP_NATIVE_TESTS:-0}" != "1" ]; then
  (cd "$build" && ctest --output-on-failure)
fi
