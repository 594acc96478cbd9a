#!/usr/bin/env bash
# bench/gpu.sh: GPU readiness check and benchmark, for a machine with an NVIDIA GPU and nvcc.
#
# Usage:
#   bench/gpu.sh [REPORT.md]
#     REPORT.md  where to write the report (default: bench/gpu-report-<UTC date-time>.md)
#   Environment (all optional):
#     LADY_GPU_BUILD_DIR  build folder (default: target-gpu, never the shared target/)
#     LADY_GPU_ARCHS      CUDA architectures, e.g. "90" (default: detected with
#                         nvidia-smi --query-gpu=compute_cap, every GPU's, e.g. 8.0 -> 80)
#     LADY_BENCH_SIZES    size set of the native benchmark: small | paper (default) | large
#     LADY_BENCH_REPS     timed calls per version (default 5)
#     MVN_FLAGS           extra Maven flags (e.g. -o for offline)
#     LADY_GPU_NATIVE_ONLY=1  skip the Maven/JUnit steps (automatic when java or mvn is missing)
#     LADY_GPU_SANITIZE   1 (default when compute-sanitizer is found): also run every CUDA test
#                         under compute-sanitizer memcheck; 0 turns it off
#
# Steps, each of which must pass:
#   1. detect the GPU(s) and their compute capability; no GPU: stop at once, exit code 2;
#   2. build with CUDA forced on for that architecture (mvn -Dlady.cuda=ON -Dlady.cuda.archs=XX)
#      into its own build folder; a failed CUDA build is a failure;
#   3. run the GPU-tagged JUnit tests (surefire groups=gpu). On a GPU machine a GPU test that is
#      SKIPPED (assumption "no GPU") is a FAILURE, and so is finding no GPU test at all.
#      Native-only mode (no java/mvn on the GPU machine, or LADY_GPU_NATIVE_ONLY=1): steps 2-3 are
#      replaced by a plain CMake build (cmake/build-native.sh, CUDA forced on) and the JUnit step is
#      reported NOT RUN; the exit status is then 3, never 0;
#   4. run the native tests (ctest). CUDA tests exit 77 (= skipped) without a GPU; here a
#      skipped test is a FAILURE; then every *_cuda_test under compute-sanitizer memcheck (when
#      found): an error it reports is a FAILURE;
#   5. run the native benchmark driver (lady_bench): every CUDA version is checked against the
#      reference, then timed; a disagreement is a failure, and so is a run without CUDA versions.
# The report (Markdown) gets the machine, versions, each step's verdict and the full outputs.
# Exit status: 0 all passed; 1 something failed (the message says what); 2 no GPU here;
#              3 native-only mode: every native check passed, the JUnit GPU tests were not run.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stamp=$(date -u +%Y-%m-%d-%H%M%S)
report=${1:-$root/bench/gpu-report-$stamp.md}
build=${LADY_GPU_BUILD_DIR:-$root/target-gpu}
case "$build" in /*) ;; *) build=$root/$build ;; esac
sizes=${LADY_BENCH_SIZES:-paper}
reps=${LADY_BENCH_REPS:-5}
mvn_flags=${MVN_FLAGS:-}
native_only=${LADY_GPU_NATIVE_ONLY:-0}
if [ "$native_only" != 1 ] && { ! command -v java > /dev/null 2>&1 || ! command -v mvn > /dev/null 2>&1; }; then
    echo "gpu.sh: no java/mvn on this machine: NATIVE-ONLY mode (CMake build, native tests, benchmark;" \
         "the JUnit GPU tests are NOT run and the exit status is 3)" >&2
    native_only=1
fi

# ---- 1. GPU detection -------------------------------------------------------------------------
if ! command -v nvidia-smi > /dev/null 2>&1; then
    echo "gpu.sh: no NVIDIA GPU here (nvidia-smi not found): nothing to check; run this on a GPU machine." >&2
    exit 2
fi
caps=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2> /dev/null | tr -d ' ' | grep -E '^[0-9]+\.[0-9]+$' | sort -u)
if [ -z "$caps" ]; then
    echo "gpu.sh: no NVIDIA GPU here (nvidia-smi lists no GPU with a compute capability): nothing to check." >&2
    nvidia-smi -L >&2 2> /dev/null || true
    exit 2
fi
archs=${LADY_GPU_ARCHS:-$(echo "$caps" | tr -d '.' | paste -sd';')}
gpus=$(nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total --format=csv,noheader)

if ! command -v nvcc > /dev/null 2>&1; then
    if [ -x /usr/local/cuda/bin/nvcc ]; then
        export PATH=/usr/local/cuda/bin:$PATH
    else
        echo "gpu.sh: FAILED: a GPU is present but nvcc (the CUDA compiler) is not found: install the CUDA toolkit or put nvcc on PATH." >&2
        exit 1
    fi
fi

mkdir -p "$(dirname "$report")" "$build"
logs=$build/gpu-logs
mkdir -p "$logs"
failures=()
fail() {
    failures+=("$1")
    echo "gpu.sh: FAILED: $1" >&2
}
step() { echo "gpu.sh: == $1" >&2; }

# ---- 2. build with CUDA forced on -------------------------------------------------------------
step "build: CUDA forced on for sm_$archs into $build"
build_ok=1
native=$build/native-build
if [ "$native_only" = 1 ]; then
    build() { LADY_SKIP_NATIVE_TESTS=1 "$root/cmake/build-native.sh" "$root/native" "$native" ON "$archs"; }
else
    # The native tests run in step 4 where skips are counted; skip them inside the Maven build.
    # shellcheck disable=SC2086
    build() { (cd "$root" && LADY_SKIP_NATIVE_TESTS=1 mvn -B $mvn_flags "-Dlady.build.dir=$build" -Dlady.cuda=ON \
        "-Dlady.cuda.archs=$archs" -DskipTests test-compile); }
fi
if ! build > "$logs/build.log" 2>&1; then
    build_ok=0
    fail "the CUDA build failed (log: $logs/build.log)"
    tail -40 "$logs/build.log" >&2
fi

junit_summary="not run"
ctest_summary="not run"
bench_summary="not run"
sanitizer_summary="not run"
if [ $build_ok = 1 ]; then
    # ---- 3. GPU-tagged JUnit tests --------------------------------------------------------------
    if [ "$native_only" = 1 ]; then
        junit_summary="NOT RUN (native-only mode: no java/mvn here)"
    else
        step "JUnit tests tagged gpu"
        rm -rf "$build/surefire-reports"
        # shellcheck disable=SC2086
        (cd "$root" && LADY_SKIP_NATIVE_TESTS=1 mvn -B $mvn_flags "-Dlady.build.dir=$build" -Dlady.cuda=ON \
            "-Dlady.cuda.archs=$archs" -Dlady.include.tags=gpu -Dlady.exclude.tags=none \
            -Dsurefire.failIfNoSpecifiedTests=false test > "$logs/junit.log" 2>&1)
        junit_rc=$?
        read -r tests failed errors skipped < <(cat "$build"/surefire-reports/TEST-*.xml 2> /dev/null | awk '
            /<testsuite / {
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^tests=/) { gsub(/[^0-9]/, "", $i); t += $i }
                    if ($i ~ /^failures=/) { gsub(/[^0-9]/, "", $i); f += $i }
                    if ($i ~ /^errors=/) { gsub(/[^0-9]/, "", $i); e += $i }
                    if ($i ~ /^skipped=/) { gsub(/[^0-9]/, "", $i); s += $i }
                }
            }
            END { printf "%d %d %d %d\n", t, f, e, s }')
        junit_summary="$tests run, $failed failed, $errors errors, $skipped skipped (mvn exit $junit_rc)"
        [ "$junit_rc" != 0 ] && fail "GPU JUnit tests failed: $junit_summary (log: $logs/junit.log)"
        [ "${tests:-0}" = 0 ] && fail "no GPU-tagged JUnit test ran (expected @Tag(\"gpu\") tests): $junit_summary"
        if [ "${skipped:-0}" != 0 ]; then
            fail "$skipped GPU JUnit test(s) SKIPPED on a GPU machine (the library does not see the GPU?)"
            grep -h -B1 -A2 "<skipped" "$build"/surefire-reports/TEST-*.xml 2> /dev/null | head -20 >&2
        fi
    fi

    # ---- 4. native tests: a skip (exit 77) is a failure here -------------------------------------
    step "native tests (ctest)"
    (cd "$native" && ctest --output-on-failure > "$logs/ctest.log" 2>&1)
    ctest_rc=$?
    ctest_skipped=$(grep -cE '\*\*\*Skipped|Not Run' "$logs/ctest.log")
    ctest_summary="$(grep -E 'tests passed|tests failed' "$logs/ctest.log" | tail -1), $ctest_skipped skipped (ctest exit $ctest_rc)"
    [ "$ctest_rc" != 0 ] && fail "native tests failed: $ctest_summary (log: $logs/ctest.log)"
    if [ "$ctest_skipped" != 0 ]; then
        fail "$ctest_skipped native test(s) SKIPPED on a GPU machine: $(grep -E '\*\*\*Skipped|Not Run' "$logs/ctest.log" | awk '{print $4}' | paste -sd' ')"
        grep -h "SKIPPED" "$logs/ctest.log" | head -5 >&2
    fi
    sanitize=${LADY_GPU_SANITIZE:-auto}
    if [ "$sanitize" = auto ]; then
        sanitize=0
        if ! command -v compute-sanitizer > /dev/null 2>&1 && [ -x /usr/local/cuda/bin/compute-sanitizer ]; then
            export PATH=$PATH:/usr/local/cuda/bin
        fi
        command -v compute-sanitizer > /dev/null 2>&1 && sanitize=1
    fi
    if [ "$sanitize" = 1 ]; then
        step "CUDA tests under compute-sanitizer memcheck"
        : > "$logs/sanitizer.log"
        sanitizer_bad=()
        for t in "$native"/*_cuda_test; do
            echo "== $(basename "$t")" >> "$logs/sanitizer.log"
            (cd "$native" && compute-sanitizer --tool memcheck --error-exitcode 99 "$t" >> "$logs/sanitizer.log" 2>&1)
            rc=$?
            [ $rc != 0 ] && sanitizer_bad+=("$(basename "$t") (exit $rc)")
        done
        if [ ${#sanitizer_bad[@]} -gt 0 ]; then
            sanitizer_summary="errors in: ${sanitizer_bad[*]}"
            fail "compute-sanitizer memcheck: ${sanitizer_bad[*]} (log: $logs/sanitizer.log)"
        else
            sanitizer_summary="$(ls "$native"/*_cuda_test | wc -l) CUDA test programs, no error"
        fi
    else
        sanitizer_summary="not run (compute-sanitizer not found, or LADY_GPU_SANITIZE=0)"
    fi

    # ---- 5. native benchmark ----------------------------------------------------------------------
    step "native benchmark: lady_bench --sizes $sizes --reps $reps"
    if [ -x "$native/bench/lady_bench" ]; then
        "$native/bench/lady_bench" --sizes "$sizes" --reps "$reps" > "$logs/bench.log" 2>&1
        bench_rc=$?
        bench_summary="$(grep -E 'checks against the reference' "$logs/bench.log" | tail -1) (exit $bench_rc)"
        [ "$bench_rc" != 0 ] && fail "lady_bench: a version disagreed with the reference or failed: $bench_summary"
        if ! grep -qE '^GPU 0:' "$logs/bench.log" || ! grep -qE ' cuda +exact ' "$logs/bench.log"; then
            fail "lady_bench ran no CUDA version (no GPU seen by the library?): $(grep -E '^(CUDA|GPU)' "$logs/bench.log" | paste -sd' ')"
        fi
    else
        fail "lady_bench was not built ($native/bench/lady_bench missing; LADY_BUILD_BENCH off?)"
    fi
fi

# ---- report -------------------------------------------------------------------------------------
verdict="PASSED"
[ "$native_only" = 1 ] && verdict="PASSED, NATIVE ONLY (the JUnit GPU tests were not run: no java/mvn here)"
[ ${#failures[@]} -gt 0 ] && verdict="FAILED (${#failures[@]})"
{
    echo "# Lady GPU report, $stamp (UTC)"
    echo
    echo "**Verdict: $verdict**"
    echo
    for f in "${failures[@]}"; do echo "- FAILED: $f"; done
    echo
    echo "## Machine and versions"
    echo "- host: $(hostname), CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
    echo "- GPUs (index, name, compute capability, driver, memory):"
    echo "$gpus" | sed 's/^/  - /'
    echo "- CUDA architectures built: $archs; nvcc: $(nvcc --version | grep -o 'release [0-9.]*' | head -1)"
    echo "- Lady commit: $(git -C "$root" rev-parse --short=12 HEAD 2> /dev/null)$( [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2> /dev/null)" ] && echo ' (dirty tree)')"
    echo "- Java: $(command -v java > /dev/null && java -version 2>&1 | sed -n 1p || echo none);" \
         "Maven: $(command -v mvn > /dev/null && mvn -B -v 2> /dev/null | sed -n 1p || echo none)"
    echo "- build folder: $build"
    echo
    echo "## Steps"
    echo "| step | result |"
    echo "|---|---|"
    echo "| CUDA build (-Dlady.cuda=ON -Dlady.cuda.archs=$archs) | $([ $build_ok = 1 ] && echo ok || echo FAILED) |"
    echo "| JUnit tests tagged gpu | $junit_summary |"
    echo "| native tests (ctest; skip = failure) | $ctest_summary |"
    echo "| CUDA tests under compute-sanitizer memcheck | $sanitizer_summary |"
    echo "| lady_bench --sizes $sizes --reps $reps | $bench_summary |"
    echo
    for part in ctest sanitizer bench; do
        if [ -f "$logs/$part.log" ]; then
            echo "## $part output"
            echo '```'
            cat "$logs/$part.log"
            echo '```'
            echo
        fi
    done
    if [ -f "$logs/junit.log" ]; then
        echo "## JUnit (tail)"
        echo '```'
        grep -E 'Tests run|FAIL|ERROR|Skipped' "$logs/junit.log" | tail -40
        echo '```'
    fi
    if [ $build_ok = 0 ]; then
        echo "## build log (tail)"
        echo '```'
        tail -60 "$logs/build.log"
        echo '```'
    fi
} > "$report"

echo "gpu.sh: report written to $report" >&2
if [ ${#failures[@]} -gt 0 ]; then
    echo "gpu.sh: FAILED: ${#failures[@]} problem(s):" >&2
    for f in "${failures[@]}"; do echo "  - $f" >&2; done
    exit 1
fi
if [ "$native_only" = 1 ]; then
    echo "gpu.sh: PASSED, NATIVE ONLY: CUDA build, native tests and benchmark checks passed on:" \
         "$(echo "$gpus" | cut -d, -f2 | paste -sd,); the JUnit GPU tests were NOT run (exit 3)" >&2
    exit 3
fi
echo "gpu.sh: PASSED: CUDA build, GPU tests, native tests and benchmark checks all passed on: $(echo "$gpus" | cut -d, -f2 | paste -sd,)" >&2
exit 0
