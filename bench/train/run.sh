#!/usr/bin/env bash
# Lady vs PyTorch training/inference throughput, back to back (see TrainBench.java).
#   bench/train/run.sh --rounds 3 --width 1.0     (LADY_BUILD_DIR: see bench/java.sh)
exec "$(dirname "${BASH_SOURCE[0]}")/../java.sh" bench/train/TrainBench.java "$@"
