#!/usr/bin/env bash
# Structural obfuscation timings (bench/RESULTS.md, "Structural obfuscation"): the cost of the structural undo's
# check on the default `lady resync` path (a plain permutation of torchvision VGG16: with and without
# --no-structural), and nso + undo on full-width VGG16 with the CIFAR head, without and with batch norm.
#   bench/structural/run.sh [WORK_DIR]      (needs Debian's /usr/bin/python3 with torch and torchvision)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lady="$here/../../lady"
work="${1:-$(mktemp -d)}"
mkdir -p "$work" && cd "$work"
/usr/bin/python3 "$here/make_models.py" .
t() { /usr/bin/time -f "%e s wall, %M KB peak" "$@"; }
"$lady" permute --model vgg16.pt --seed 1 --out vgg16.perm.pt --secret vgg16.perm.json --quiet
for run in 1 2 3; do
  echo "== torchvision vgg16, plain permutation, run $run"
  t "$lady" resync --reference vgg16.pt --suspect vgg16.perm.pt --secret vgg16.perm.json --quiet 2>&1 | tail -3
  t "$lady" resync --reference vgg16.pt --suspect vgg16.perm.pt --secret vgg16.perm.json --quiet --no-structural 2>&1 | tail -2
done
for arch in vgg16_cifar vgg16_bn_cifar; do
  echo "== $arch, nso"
  t "$lady" attack --model $arch.pt --attack nso --seed 1 --out $arch.nso.pt --secret $arch.nso.json --verify --quiet 2>&1 \
    | grep -E "verified|wall|nso:"
  t "$lady" resync --reference $arch.pt --suspect $arch.nso.pt --secret $arch.nso.json --out $arch.fixed.pt --quiet 2>&1 \
    | grep -E "undo|method|wall"
  /usr/bin/python3 "$here/compare.py" $arch.pt $arch.fixed.pt
  "$lady" canon --model $arch.fixed.pt --normal-form --out $arch.fixed.nf.pt --quiet > /dev/null
  "$lady" canon --model $arch.pt --normal-form --out $arch.nf.pt --compare $arch.fixed.nf.pt --quiet | tail -1
done
