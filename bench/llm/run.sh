#!/usr/bin/env bash
# bench/llm/run.sh CASE [WORK_DIR] [RUNS]: exact resync of a random Hugging Face Llama-family pair as a
# process on 2 cores (taskset -c 0,1), with the process's peak anonymous memory (RssAnon, sampled every
# 0.2 s: the mapped checkpoint pages are not counted), its CPU time (user + sys at the last sample) and, measured in the same run, the IO floor: reading
# both folders' weights and writing one copy of the reference (cat + cp + fsync).
#   CASE 1b    Llama-3.2-1B shape: d 2048, 16 layers, GQA 32/8, head_dim 64, MLP 8192, vocab 128256,
#              tied embeddings, bf16 (1.24 B parameters with the tied embedding, 2.5 GB)
#        8b2   2 layers of Llama-3-8B width: d 4096, GQA 32/8, head_dim 128, MLP 14336, vocab 128256,
#              untied, bf16 (1.5 B parameters, 3 GB)
#        7b    Llama-2-7B shape: d 4096, 32 layers, 32 heads (no GQA), MLP 11008, vocab 32000, untied,
#              bf16, two shards (6.7 B parameters, 13.5 GB)
#        gemma2b  Gemma-2-2B shape (variant gemma2): d 2304, 26 layers, GQA 8/4, head_dim 256, MLP 9216,
#              vocab 256000, tied, norms around attention and MLP, bf16 (2.6 B parameters, 5.2 GB)
#        phi3mini Phi-3-mini shape (variant phi3): d 3072, 32 layers, 32 heads (MHA), head_dim 96, MLP 8192,
#              vocab 32064, untied, q/k/v and gate/up fused, bf16 (3.8 B parameters, 7.6 GB)
#        qwen3moe2  2 layers of Qwen3-30B-A3B width (variant qwen3_moe): d 2048, GQA 32/4, head_dim 128, 128 experts
#              of 768 units per layer (8 per token, norm_topk_prob), vocab 151936, untied, bf16 (1.9 B parameters,
#              3.7 GB): per layer a 128-neuron group of experts moved whole and 128 nested groups of units
#        qwen3moe2f the same with its experts fused (transformers 5's layout: one [128, 1536, 2048] gate_up and one
#              [128, 2048, 768] down tensor per layer), read as one view per expert and written back fused
#        mixtral2   2 layers of Mixtral-8x7B width (variant mixtral): d 4096, GQA 32/8, head_dim 128, 8 experts of 14336
#              units per layer (2 per token), vocab 32000, untied, bf16, two shards (2.9 B parameters, 5.9 GB): 16
#              groups of 14336 units, each expert's tensors moved whole
#        gpt2s  GPT-2 small shape (variant gpt2, tests/python/gpt_family.py): d 768, 12 layers, 12 heads, MLP 3072, vocab
#              50257, 1024 positions, Conv1D matrices [in, out], head tied, float32 as the hub's gpt2 (124 M parameters,
#              0.5 GB): every q/k dimension of each head a group of its own (no rotary embedding)
#        pythia1b  Pythia-1B shape (variant gpt_neox): d 2048, 16 layers, 8 heads, MLP 8192, vocab 50304, a quarter of
#              each head rotated, parallel residual, untied, float16 as Pythia is stored (1.0 B parameters, 2.0 GB)
#        bloom560m  BLOOM-560m shape (variant bloom): d 1024, 24 layers, 16 heads (ALiBi: the heads stay), MLP 4096,
#              vocab 250880, head tied, float16 (0.56 B parameters, 1.1 GB): a residual stream read by 250880 rows
#        falcon7b2  2 layers of Falcon-7B width (variant falcon, its layout mq): d 4544, 71 query heads of 64 sharing one
#              KV head, MLP 18176, vocab 65024, parallel attention and MLP on one norm, no biases, head tied, bf16
#              (0.71 B parameters, 1.4 GB): a 71-head group nested in the one KV head
#        bertbase  BERT-base shape (variant bert, tests/python/encoder_family.py): d 768, 12 layers, 12 heads, MLP 3072,
#              vocab 30522, 512 positions, 2 token types, post-norm, masked-LM head tied to the embedding, float32 as
#              bert-base-uncased is stored (110 M parameters, 0.44 GB): every q/k dimension of each head a group
#        mpt7b2  2 layers of MPT-7B width (variant mpt): d 4096, 32 heads (ALiBi: the heads stay), MLP 16384, vocab 50432,
#              LayerNorms without bias, no biases, head tied, bf16 (0.48 B parameters, 1.0 GB)
#        vitb16  ViT-B/16 shape (variant vit): d 768, 12 layers, 12 heads, MLP 3072, 224 x 224 images in 16 x 16 patches,
#              1000 classes, pre-norm, float32 as google/vit-base-patch16-224 is stored (86 M parameters, 0.35 GB)
# The pair is made once under WORK_DIR/CASE (default /tmp/lady-bench-llm) by tests/python/llama_family.py
# (Debian's /usr/bin/python3 with torch): ref/ (seed 1) and sus/, every symmetry of ref permuted
# independently by the script (its own code, not Lady's), with the script's secret.json. Each run checks
# that every file of the output folder equals the reference's, byte for byte, and Psi 100.
# LADY_RESYNC_ARGS: extra options of lady resync (e.g. "--margins bound").
# LADY_NOISE=F: the suspect is noisy-F/, sus/ with Gaussian noise of F x each matrix's spread (the script's `noise`,
# made once): a derived copy whose weights moved; each run then checks Psi 100 against secret.json instead of bytes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
case_name="${1:?usage: run.sh 1b|8b2|7b|gemma2b|phi3mini|qwen3moe2|qwen3moe2f|mixtral2|gpt2s|pythia1b|bloom560m|falcon7b2|mpt7b2|bertbase|vitb16 [WORK_DIR] [RUNS]}"
work="${2:-/tmp/lady-bench-llm}/$case_name"
runs="${3:-1}"
py=/usr/bin/python3
script="$repo/tests/python/llama_family.py"  # (the GPT cases: gpt_family.py)
cores="taskset -c 0,1"
case "$case_name" in
  gemma2b) shape=(--variant gemma2 --hidden 2304 --layers 26 --heads 8 --kv-heads 4 --head-dim 256 --inter 9216 --vocab 256000 --tied --shards 1) ;;
  phi3mini) shape=(--variant phi3 --hidden 3072 --layers 32 --heads 32 --kv-heads 32 --head-dim 96 --inter 8192 --vocab 32064 --shards 2) ;;
  1b)  shape=(--hidden 2048 --layers 16 --heads 32 --kv-heads 8 --head-dim 64 --inter 8192 --vocab 128256 --tied --shards 1) ;;
  8b2) shape=(--hidden 4096 --layers 2 --heads 32 --kv-heads 8 --head-dim 128 --inter 14336 --vocab 128256 --shards 1) ;;
  7b)  shape=(--hidden 4096 --layers 32 --heads 32 --kv-heads 32 --head-dim 128 --inter 11008 --vocab 32000 --shards 2) ;;
  qwen3moe2) shape=(--variant qwen3_moe --hidden 2048 --layers 2 --heads 32 --kv-heads 4 --head-dim 128 --experts 128 --top-k 8 --moe-inter 768 --norm-topk --vocab 151936 --shards 1) ;;
  qwen3moe2f) shape=(--variant qwen3_moe --hidden 2048 --layers 2 --heads 32 --kv-heads 4 --head-dim 128 --experts 128 --top-k 8 --moe-inter 768 --norm-topk --vocab 151936 --shards 1 --fused-experts) ;;
  mixtral2) shape=(--variant mixtral --hidden 4096 --layers 2 --heads 32 --kv-heads 8 --head-dim 128 --experts 8 --top-k 2 --moe-inter 14336 --vocab 32000 --shards 2) ;;
  gpt2s) script="$repo/tests/python/gpt_family.py"; dtype=F32
    shape=(--variant gpt2 --hidden 768 --layers 12 --heads 12 --inter 3072 --vocab 50257 --positions 1024) ;;
  pythia1b) script="$repo/tests/python/gpt_family.py"; dtype=F16
    shape=(--variant gpt_neox --hidden 2048 --layers 16 --heads 8 --inter 8192 --vocab 50304 --positions 2048) ;;
  bloom560m) script="$repo/tests/python/gpt_family.py"; dtype=F16
    shape=(--variant bloom --hidden 1024 --layers 24 --heads 16 --vocab 250880) ;;
  falcon7b2) script="$repo/tests/python/gpt_family.py"; dtype=BF16
    shape=(--variant falcon --falcon mq --hidden 4544 --layers 2 --heads 71 --vocab 65024 --positions 2048) ;;
  mpt7b2) script="$repo/tests/python/gpt_family.py"; dtype=BF16
    shape=(--variant mpt --hidden 4096 --layers 2 --heads 32 --inter 16384 --vocab 50432 --positions 2048) ;;
  bertbase) script="$repo/tests/python/encoder_family.py"; dtype=F32
    shape=(--variant bert --head mlm --hidden 768 --layers 12 --heads 12 --inter 3072 --vocab 30522 --positions 512) ;;
  vitb16) script="$repo/tests/python/encoder_family.py"; dtype=F32
    shape=(--variant vit --head seq --hidden 768 --layers 12 --heads 12 --inter 3072 --positions 14 --patch 16 --labels 1000) ;;
  *) echo "unknown case $case_name (1b, 8b2, 7b, gemma2b, phi3mini, qwen3moe2, qwen3moe2f, mixtral2, gpt2s, pythia1b, bloom560m, falcon7b2, mpt7b2, bertbase, vitb16)" >&2; exit 2 ;;
esac
# the Llama script's variant unless the case names one (argparse takes the last --variant)
variant=(); [ "$script" = "$repo/tests/python/llama_family.py" ] && variant=(--variant llama)
mkdir -p "$work"
cd "$work"
if [ ! -f ref/config.json ]; then
  t0=$(date +%s.%N)
  $py "$script" make ref "${variant[@]}" --dtype "${dtype:-BF16}" --seed 1 "${shape[@]}"  # a --variant in shape wins
  $py "$script" permute ref sus --seed 2 --secret secret.json
  echo "made the pair in $(echo "$(date +%s.%N) - $t0" | bc) s: $(du -sh ref | cut -f1) per folder"
fi
suspect=sus
if [ -n "${LADY_NOISE:-}" ]; then
  suspect="noisy-$LADY_NOISE"
  [ -f "$suspect/config.json" ] || $py "$repo/tests/python/llama_family.py" noise sus "$suspect" --factor "$LADY_NOISE" --seed 11
fi
"$repo/lady" --version >/dev/null  # builds if needed, outside the timings
export OPENBLAS_NUM_THREADS=1
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$runs"); do
  # the IO floor: read both inputs, write one output of the reference's size, fsync
  t0=$(date +%s.%N)
  cat ref/*.safetensors "$suspect"/*.safetensors > /dev/null
  rm -rf floor && mkdir floor && cp ref/*.safetensors floor/ && sync -f floor/
  floor=$(echo "$(date +%s.%N) - $t0" | bc)
  rm -rf floor
  t0=$(date +%s.%N)
  $cores "$repo/lady" resync --reference ref --suspect "$suspect" --out fixed --report report.json --secret secret.json \
    --threads 2 --quiet ${LADY_RESYNC_ARGS:-} > resync.out &
  pid=$!
  peak=0
  ticks=0
  while kill -0 "$pid" 2>/dev/null; do
    a=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ -n "$a" ] && [ "$a" -gt "$peak" ] && peak=$a
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || true)
    [ -n "$t" ] && ticks=$t
    sleep 0.2
  done
  wait "$pid"
  wall=$(echo "$(date +%s.%N) - $t0" | bc)
  same=yes
  if [ -n "${LADY_NOISE:-}" ]; then
    same="not asked (noisy suspect: Psi above)"
  else
    for f in ref/*; do cmp -s "$f" "fixed/$(basename "$f")" || same="NO ($(basename "$f"))"; done
  fi
  parts=$($py -c "import json; r = json.load(open('report.json')); t = r['timings']; print(' '.join(f'{k} {v:.1f}' for k, v in t.items()), '| psi', r['psi'], '| margins', r['margins'], '| verdict', 'derived' if r['verdict']['derived'] else 'NOT derived', '| prefiltered', sum(g['prefiltered'] for g in r['groups']), 'of', len(r['groups']))")
  echo "run $i: lady resync ${wall} s, CPU (user + sys, last sample) $(echo "scale=1; $ticks / $(getconf CLK_TCK)" | bc) s ($parts) | RssAnon peak $((peak / 1024)) MB | restored byte for byte: $same | IO floor ${floor} s"
done
echo "load at end $(cut -d' ' -f1-3 /proc/loadavg)"
