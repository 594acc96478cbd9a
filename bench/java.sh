#!/usr/bin/env bash
# Runs a single-file Java benchmark (bench/*/X.java) against Lady's build, with the launcher's environment.
#   LADY_BUILD_DIR  build folder (default: target/); built with `mvn -DskipTests package` if missing
#   LADY_BENCH_XMX  heap (default 4g)
#   bench/java.sh bench/train/TrainBench.java ARGS...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LADY_BUILD_DIR:-$here/target}"
if [ ! -f "$build/classpath.txt" ] || [ ! -d "$build/classes/lady" ]; then
  (cd "$here" && LADY_SKIP_NATIVE_TESTS=1 mvn -B -q -DskipTests "-Dlady.build.dir=$build" package) >&2
fi
export OPENBLAS_NUM_THREADS=1
export THP_MEM_ALLOC_ENABLE="${THP_MEM_ALLOC_ENABLE:-1}"
cd "$here"
source="$1"
shift
exec java "-Xmx${LADY_BENCH_XMX:-4g}" -cp "$build/classes:$(cat "$build/classpath.txt")" "$source" "$@"
