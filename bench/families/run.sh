#!/usr/bin/env bash
# bench/families/run.sh [WORK_DIR] [RUNS] [BEFORE_BUILD_DIR]: the whole-network resync of torchvision ResNet50
# and ViT-B/16 (random initialization, seed 0; every group permuted by `lady permute --seed 7`), Lady against
# PyTorch 1.13 + scipy doing the paper's resync on the same groups (resync_torch.py, reading `lady spec`'s
# groups), in the same run, on 2 cores (taskset -c 0,1), alternating, RUNS times (default 3). With
# BEFORE_BUILD_DIR (a folder holding another build's lady.jar and classpath.txt), that build runs the same
# command in the same rounds (before/after a change). Needs Debian's /usr/bin/python3 with torch, torchvision
# and scipy. Prints one line per run: the process's wall clock and CPU time (user + system), the report's
# timings (JVM start, read, resync, write) and the resync's own CPU time (cpu_seconds), Psi and the verdict; for
# PyTorch its import, read, compute (wall and CPU) and write; the compute ratios.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/lady-bench-families}"
runs="${2:-3}"
before="${3:-}"
py=/usr/bin/python3
cores="taskset -c 0,1"
mkdir -p "$work"
cd "$work"
export OPENBLAS_NUM_THREADS=1
"$repo/lady" --version >/dev/null  # builds if needed, outside the timings

for model in resnet50 vit_b_16; do
  if [ ! -f "$model.pt" ]; then
    $py -c "import torch, torchvision; torch.manual_seed(0); torch.save(getattr(torchvision.models, '$model')().state_dict(), '$model.pt')"
  fi
  if [ ! -f "$model.sus.pt" ]; then
    "$repo/lady" permute --model "$model.pt" --seed 7 --out "$model.sus.pt" --secret "$model.secret.json" --quiet
  fi
  if [ ! -f "$model.spec.json" ]; then
    "$repo/lady" spec --model "$model.pt" --out "$model.spec.json" >/dev/null
  fi
done

# lady_once LABEL MODEL LAUNCHER...: one resync as a process; prints its summary line
lady_once() {
  local label="$1" model="$2"
  shift 2
  /usr/bin/time -f "%e %U %S" -o "$label.time" $cores "$@" resync --reference "$model.pt" --suspect "$model.sus.pt" \
    --out "$model.$label.fixed.pt" --report "$model.$label.report.json" --secret "$model.secret.json" --threads 2 \
    --quiet >/dev/null
  $py - "$label" "$model" <<'PY'
import json, sys
label, model = sys.argv[1:3]
wall, user, system = map(float, open(label + ".time").read().split())
r = json.load(open(f"{model}.{label}.report.json"))
t = r["timings"]
cpu = r.get("cpu_seconds")
print(f"  {label:6s} process {wall:6.2f} s (cpu {user + system:6.2f} s) | jvm {t['jvm_start_s']:.2f} read {t['read_s']:.2f}"
      f" resync {t['resync_s']:6.2f} s (cpu {'-' if cpu is None else f'{cpu:.2f}'} s) write {t['write_s']:.2f}"
      f" | psi {r['psi']:.2f} verdict {r['verdict']['derived']}")
PY
}

if [ -n "$before" ]; then  # the other build's launcher, as ./lady runs it
  . "$here/../before-lady.sh"
  write_before_lady "$before"
fi

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$runs"); do
  for model in resnet50 vit_b_16; do
    echo "run $i $model (load $(cut -d' ' -f1 /proc/loadavg))"
    lady_once after "$model" "$repo/lady"
    if [ -n "$before" ]; then
      lady_once before "$model" ./before-lady
    fi
    /usr/bin/time -f "%e %U %S" -o torch.time $cores $py "$here/resync_torch.py" "$model.spec.json" "$model.pt" \
      "$model.sus.pt" "$model.torch.fixed.pt" 2 > "$model.torch.json"
    $py - "$model" <<'PY'
import json, sys
model = sys.argv[1]
wall, user, system = map(float, open("torch.time").read().split())
t = json.load(open(f"{model}.torch.json"))
r = json.load(open(f"{model}.after.report.json"))
print(f"  torch  process {wall:6.2f} s (cpu {user + system:6.2f} s) | import {t['import_s']:.2f} read {t['read_s']:.2f}"
      f" compute {t['compute_s']:6.2f} s (cpu {t['compute_cpu_s']:.2f} s) write {t['write_s']:.2f}"
      f" | restored {t['restored']}")
lw, _, _ = map(float, open("after.time").read().split())
ratio_cpu = t["compute_cpu_s"] / r["cpu_seconds"] if r.get("cpu_seconds") else float("nan")
print(f"  ratio  compute {t['compute_s'] / r['timings']['resync_s']:.2f}x (cpu {ratio_cpu:.2f}x), process {wall / lw:.2f}x")
PY
  done
done
echo "load at end $(cut -d' ' -f1-3 /proc/loadavg)"
