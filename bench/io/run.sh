#!/usr/bin/env bash
# bench/io/run.sh [WORK_DIR] [RUNS]: the whole-network resync of torchvision VGG16 as a process, Lady
# against PyTorch 1.13 + scipy doing the same work (resync_torch.py), in the same run, on 2 cores
# (taskset -c 0,1), alternating the two RUNS times (default 3); then `lady bench io` (checkpoint read
# and write against memcpy, measured in the same run). Needs Debian's /usr/bin/python3 with torch,
# torchvision and scipy (apt-get install python3-scipy). Prints one line per run and a summary.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/lady-bench-io}"
runs="${2:-3}"
py=/usr/bin/python3
cores="taskset -c 0,1"
mkdir -p "$work"
cd "$work"
export OPENBLAS_NUM_THREADS=1

if [ ! -f ref.pt ]; then  # torchvision VGG16 with its random initialization, seed 0 (553 MB)
  $py -c "import torch, torchvision; torch.manual_seed(0); torch.save(torchvision.models.vgg16().state_dict(), 'ref.pt')"
fi
if [ ! -f sus.pt ]; then  # every one of the 15 groups permuted
  "$repo/lady" permute --model ref.pt --seed 7 --out sus.pt --secret secret.json --quiet
fi
"$repo/lady" --version >/dev/null  # builds if needed, outside the timings

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$runs"); do
  /usr/bin/time -f "%e" -o lady.time $cores "$repo/lady" resync --reference ref.pt --suspect sus.pt --out fixed.pt \
    --report report.json --secret secret.json --threads 2 --quiet >/dev/null
  /usr/bin/time -f "%e" -o torch.time $cores $py "$here/resync_torch.py" ref.pt sus.pt torch_fixed.pt 2 > torch.json
  lady_s=$(cat lady.time); torch_s=$(cat torch.time)
  lady_parts=$($py -c "import json; t = json.load(open('report.json'))['timings']; print(' '.join(f'{k} {v:.2f}' for k, v in t.items()), '| psi', json.load(open('report.json'))['psi'])")
  torch_parts=$($py -c "import json; t = json.load(open('torch.json')); print(' '.join(f'{k} {t[k]:.2f}' for k in ('import_s', 'read_s', 'compute_s', 'write_s')), '| restored', t['restored'])")
  echo "run $i: lady ${lady_s} s ($lady_parts) | pytorch+scipy ${torch_s} s ($torch_parts) | ratio $($py -c "print(round($torch_s / $lady_s, 2))")"
done
echo "load at end $(cut -d' ' -f1-3 /proc/loadavg)"
$cores "$repo/lady" bench io --size paper --threads 2 --quiet
