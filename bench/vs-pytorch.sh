#!/usr/bin/env bash
# fedqlora's training step against PyTorch's on the same machine, back to back, several rounds, medians.
#   bench/vs-pytorch.sh [ROUNDS] [STEPS]        (default 3 rounds of 5 timed steps each)
# Needs a PyTorch for the reference (Debian: apt-get install python3-torch libopenblas0-pthread; without OpenBLAS
# Debian's torch falls back to the reference BLAS, ~2.5 GFLOP/s; run by /usr/bin/python3). Every round
# runs, in turn: fedqlora fp32, fedqlora bf16, PyTorch fp32, PyTorch bf16 autocast (bench/pytorch_reference.py),
# each on MiniLM's shape, batch 16 x 128, LoRA r=8 on query/value, 2 threads. Other load hits every setting alike;
# the medians and the ratio fedqlora-bf16 / PyTorch-autocast are printed at the end, with the CPU model.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-3}"
steps="${2:-5}"
py="${PYTHON:-/usr/bin/python3}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$py" -c "import torch" 2>/dev/null || { echo "error: $py has no torch (Debian: apt-get install python3-torch, or set PYTHON)" >&2; exit 2; }
for r in $(seq "$rounds"); do
  for c in fp32 bf16; do
    "$root/fedqlora" bench train --model minilm --format nf4 --batch 16 --seq 128 --lora-rank 8 --targets query,value \
      --steps "$steps" --warmup 2 --compute "$c" --json > "$out/fedqlora-$c-$r.json"
  done
  OMP_NUM_THREADS=2 "$py" "$root/bench/pytorch_reference.py" --steps "$steps" --warmup 2 > "$out/pytorch-fp32-$r.json"
  OMP_NUM_THREADS=2 "$py" "$root/bench/pytorch_reference.py" --steps "$steps" --warmup 2 --autocast > "$out/pytorch-bf16-$r.json"
  echo "round $r/$rounds done" >&2
done
python3 - "$out" "$rounds" <<'EOF'
import json, statistics, sys, subprocess
out, rounds = sys.argv[1], int(sys.argv[2])
def med(name):
    return statistics.median(json.load(open(f"{out}/{name}-{r}.json"))["tokens_per_s"] for r in range(1, rounds + 1))
cpu = next((l.split(":", 1)[1].strip() for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
            if l.startswith("Model name")), "?")
rows = {n: med(n) for n in ["fedqlora-fp32", "fedqlora-bf16", "pytorch-fp32", "pytorch-bf16"]}
print(f"CPU: {cpu}; median of {rounds} rounds, tokens/s (MiniLM shape, batch 16 x 128, LoRA r=8 query,value, 2 threads)")
for n, v in rows.items():
    print(f"  {n:15s} {v:9.1f}")
print(f"  fedqlora-bf16 / pytorch-bf16-autocast = {rows['fedqlora-bf16'] / rows['pytorch-bf16']:.2f}")
print(f"  fedqlora-fp32 / pytorch-fp32          = {rows['fedqlora-fp32'] / rows['pytorch-fp32']:.2f}")
EOF
