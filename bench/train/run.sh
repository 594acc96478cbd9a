#!/usr/bin/env bash
# Lady vs PyTorch training/inference throughput, back to back (see TrainBench.java).
#   LADY_BUILD_DIR  build folder (default: target/); built with `mvn -DskipTests package` if missing
#   bench/train/run.sh --rounds 3 --width 1.0
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${LADY_BUILD_DIR:-$here/target}"
if [ ! -f "$build/classpath.txt" ] || [ ! -d "$build/classes/lady" ]; then
  (cd "$here" && LADY_SKIP_NATIVE_TESTS=1 mvn -B -q -DskipTests "-Dlady.build.dir=$build" package) >&2
fi
export OPENBLAS_NUM_THREADS=1
export THP_MEM_ALLOC_ENABLE="${THP_MEM_ALLOC_ENABLE:-1}"
cd "$here"
exec java -Xmx4g -cp "$build/classes:$(cat "$build/classpath.txt")" bench/train/TrainBench.java "$@"
