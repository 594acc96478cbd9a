#!/usr/bin/env bash
# Soak check: 1,000 `lady resync` runs in one JVM, RSS sampled (see Soak.java).
#   bench/soak/run.sh --iterations 1000 --csv soak.csv     (LADY_BUILD_DIR: see bench/java.sh)
LADY_BENCH_XMX="${LADY_BENCH_XMX:-2g}" exec "$(dirname "${BASH_SOURCE[0]}")/../java.sh" bench/soak/Soak.java "$@"
