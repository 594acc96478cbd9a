#!/usr/bin/env bash
# bench/onnx/run.sh [WORK_DIR] [RUNS] [BEFORE_BUILD_DIR]: exact resync of transformers exported to ONNX by PyTorch 1.13
# (opset 17, state-dict names kept: training=PRESERVE, do_constant_folding=False), random initialization:
#   vit   torchvision ViT-B/16 (seed 0; 346 MB): nn.MultiheadAttention, packed in_proj;
#   bert  a BERT-base-sized classifier written as Hugging Face's BertModel writes it (tests/python/onnx_tokens.py, seed 0:
#         d 768, 12 layers, 12 heads, MLP 3072, vocab 30522, 512 positions; 438 MB), token ids and an attention mask in.
# Each is permuted in every group by `lady permute --seed 7` (attention blocks included: heads and the dimensions inside
# them); then, in the same rounds on 2 cores (taskset -c 0,1), RUNS times (default 2):
#   onnx   `lady resync` of the permuted export against the export (the groups from the ONNX graph);
#   pt     `lady resync` of the same model as a PyTorch state dict, its own suspect from `lady permute --seed 7`: vit
#          through the built-in torchvision family, bert with `--graph` its kept export (the same groups, the state
#          dict's IO): the baseline;
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
if [ ! -f bert.onnx ]; then
  $py "$repo/tests/python/onnx_tokens.py" . 0 768 12 3072 12 30522 2>/dev/null
  mv bert-kept.onnx bert.onnx
  rm -f bert-folded.onnx
fi
declare -A graph=([vit]="" [bert]="--graph bert.onnx")
for m in vit bert; do
  for ext in onnx pt; do
    if [ ! -f "$m.sus.$ext" ]; then
      g="${graph[$m]}"
      [ "$ext" = onnx ] && g=""
      "$repo/lady" permute --model "$m.$ext" $g --seed 7 --out "$m.sus.$ext" --secret "$m.secret.$ext.json" --quiet
    fi
  done
done

if [ -n "$before" ]; then  # the other build's launcher, as ./lady runs it
  . "$here/../before-lady.sh"
  write_before_lady "$before"
fi

# once MODEL LABEL EXT LAUNCHER [ARGS...]: one resync as a process; prints its summary line
once() {
  local m="$1" label="$2" ext="$3" launcher="$4"
  shift 4
  /usr/bin/time -f "%e %U %S" -o "$label.time" $cores "$launcher" resync --reference "$m.$ext" --suspect "$m.sus.$ext" \
    --out "$m.$label.fixed.$ext" --report "$m.$label.report.json" --secret "$m.secret.$ext.json" --threads 2 --quiet \
    "$@" >/dev/null
  local same=no
  if [ "$ext" = onnx ]; then
    cmp -s "$m.$ext" "$m.$label.fixed.$ext" && same=yes
  else  # a zip's bytes depend on its writer: every tensor compared
    $py -c "import sys, torch; a, b = (torch.load(f) for f in sys.argv[1:3]); sys.exit(0 if a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a) else 1)" \
      "$m.$ext" "$m.$label.fixed.$ext" && same=yes
  fi
  $py - "$m" "$label" "$same" <<'PY'
import json, sys
m, label, same = sys.argv[1:4]
wall, user, system = map(float, open(label + ".time").read().split())
r = json.load(open(f"{m}.{label}.report.json"))
t = r["timings"]
print(f"  {m:4s} {label:6s} process {wall:6.2f} s (cpu {user + system:6.2f} s) | read {t['read_s']:.2f} resync"
      f" {t['resync_s']:6.2f} write {t['write_s']:.2f} | {len(r['groups'])} groups, psi {r['psi']:.2f}, verdict"
      f" {r['verdict']['derived']}, output equals the reference: {same}")
PY
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$runs"); do
  echo "run $i (load $(cut -d' ' -f1 /proc/loadavg))"
  for m in vit bert; do
    once "$m" onnx onnx "$repo/lady"
    once "$m" pt pt "$repo/lady" ${graph[$m]}
    if [ -n "$before" ]; then
      once "$m" before onnx ./before-lady
    fi
  done
done
