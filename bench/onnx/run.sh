#!/usr/bin/env bash
# bench/onnx/run.sh [WORK_DIR] [RUNS] [BEFORE_BUILD_DIR]: torchvision ViT-B/16 (random initialization, seed 0)
# exported to ONNX by PyTorch 1.13 (opset 17, state-dict names kept: training=PRESERVE, do_constant_folding=False),
# every group permuted by `lady permute --seed 7` (its attention blocks included: heads and the dimensions inside
# them); then, in the same rounds on 2 cores (taskset -c 0,1), RUNS times (default 2):
#   onnx   `lady resync` of the permuted export against the export (the groups from the ONNX graph);
#   pt     `lady resync` of the same model as a PyTorch state dict (the torchvision family's groups: the baseline,
#          the same groups from Lady's built-in description), its suspect permuted by `lady permute --seed 7`;
#   before (with BEFORE_BUILD_DIR: a folder holding another build's lady.jar and classpath.txt) that build's
#          resync of the same ONNX pair.
# Prints per run the process's wall and CPU time, the report's read/resync/write timings, the number of groups, Psi
# and the verdict, and whether the output equals the reference (ONNX: byte for byte; the state dict: tensor for
# tensor). Needs Debian's /usr/bin/python3 with torch and torchvision.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/lady-bench-onnx}"
runs="${2:-2}"
before="${3:-}"
py=/usr/bin/python3
cores="taskset -c 0,1"
mkdir -p "$work"
cd "$work"
"$repo/lady" --version >/dev/null  # builds if needed, outside the timings

if [ ! -f vit.onnx ]; then
  $py - <<'PY' 2>/dev/null
import torch, torchvision
torch.manual_seed(0)
m = torchvision.models.vit_b_16().eval()
torch.save(m.state_dict(), "vit.pt")
torch.onnx.export(m, torch.randn(1, 3, 224, 224), "vit.onnx", opset_version=17, input_names=["input"],
                  output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                  training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
PY
fi
for f in vit.onnx vit.pt; do
  ext="${f##*.}"
  if [ ! -f "sus.$ext" ]; then
    "$repo/lady" permute --model "$f" --seed 7 --out "sus.$ext" --secret "secret.$ext.json" --quiet
  fi
done

if [ -n "$before" ]; then
  cat > before-lady <<SH
#!/usr/bin/env bash
export OPENBLAS_NUM_THREADS=1 THP_MEM_ALLOC_ENABLE="\${THP_MEM_ALLOC_ENABLE:-1}"
exec java \${LADY_JAVA_OPTS:--Xmx8g} -cp "$before/lady.jar:$(cat "$before/classpath.txt")" lady.cli.Main "\$@"
SH
  chmod +x before-lady
fi

# once LABEL EXT LAUNCHER: one resync as a process; prints its summary line
once() {
  local label="$1" ext="$2" launcher="$3"
  /usr/bin/time -f "%e %U %S" -o "$label.time" $cores "$launcher" resync --reference "vit.$ext" --suspect "sus.$ext" \
    --out "$label.fixed.$ext" --report "$label.report.json" --secret "secret.$ext.json" --threads 2 --quiet >/dev/null
  local same=no
  if [ "$ext" = onnx ]; then
    cmp -s "vit.$ext" "$label.fixed.$ext" && same=yes
  else  # a zip's bytes depend on its writer: every tensor compared
    $py -c "import sys, torch; a, b = (torch.load(f) for f in sys.argv[1:3]); sys.exit(0 if a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a) else 1)" \
      "vit.$ext" "$label.fixed.$ext" && same=yes
  fi
  $py - "$label" "$same" <<'PY'
import json, sys
label, same = sys.argv[1:3]
wall, user, system = map(float, open(label + ".time").read().split())
r = json.load(open(label + ".report.json"))
t = r["timings"]
print(f"  {label:6s} process {wall:6.2f} s (cpu {user + system:6.2f} s) | read {t['read_s']:.2f} resync {t['resync_s']:6.2f}"
      f" write {t['write_s']:.2f} | {len(r['groups'])} groups, psi {r['psi']:.2f}, verdict {r['verdict']['derived']},"
      f" output equals the reference: {same}")
PY
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$runs"); do
  echo "run $i (load $(cut -d' ' -f1 /proc/loadavg))"
  once onnx onnx "$repo/lady"
  once pt pt "$repo/lady"
  if [ -n "$before" ]; then
    once before onnx ./before-lady
  fi
done
