#!/usr/bin/env python3
"""The PyTorch reference for `fedqlora bench train` on a MiniLM-shaped BERT.

The same training step as `fedqlora bench train --model minilm --batch 16 --seq 128 --lora-rank 8
--targets query,value`, written the way a PyTorch + PEFT user runs it on a CPU: frozen fp32 base weights
(the dequantized Q(W): on a CPU there is no bitsandbytes kernel, so a QLoRA user computes with the dequantized
copy), unmerged LoRA (x W^T + s (x A^T) B^T) on query and value, eager attention, mean pooling, a 4-class head,
cross-entropy, AdamW (lr 1e-4) on LoRA and head. `--autocast` runs forward and loss under
torch.autocast("cpu", dtype=torch.bfloat16), PyTorch's own mixed precision. Random token ids, random weights
(speed does not depend on their values). Prints one JSON line like the Java bench.

Not a test and not part of the build: it needs a PyTorch (Debian: `apt-get install python3-torch
libopenblas0-pthread`, run with /usr/bin/python3; without libopenblas Debian's torch uses the reference BLAS,
~2.5 GFLOP/s). Usage:
  /usr/bin/python3 bench/pytorch_reference.py [--autocast] [--threads 2] [--steps 10] [--warmup 3]
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

H, LAYERS, HEADS, FFN, VOCAB, MAXPOS = 384, 6, 12, 1536, 30522, 512


class LoraLinear(nn.Module):
    def __init__(self, base: nn.Linear, r: int, alpha: float):
        super().__init__()
        self.base = base
        self.a = nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(base.in_features))
        self.b = nn.Parameter(torch.zeros(base.out_features, r))
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + self.scale * F.linear(F.linear(x, self.a), self.b)


class Layer(nn.Module):
    def __init__(self, r, alpha):
        super().__init__()
        self.q = LoraLinear(nn.Linear(H, H), r, alpha)
        self.k = nn.Linear(H, H)
        self.v = LoraLinear(nn.Linear(H, H), r, alpha)
        self.o = nn.Linear(H, H)
        self.ln1 = nn.LayerNorm(H, eps=1e-12)
        self.up = nn.Linear(H, FFN)
        self.down = nn.Linear(FFN, H)
        self.ln2 = nn.LayerNorm(H, eps=1e-12)

    def forward(self, x, bias):
        b, t, _ = x.shape
        d = H // HEADS
        q = self.q(x).view(b, t, HEADS, d).transpose(1, 2)
        k = self.k(x).view(b, t, HEADS, d).transpose(1, 2)
        v = self.v(x).view(b, t, HEADS, d).transpose(1, 2)
        p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
        ctx = (p @ v).transpose(1, 2).reshape(b, t, H)
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.down(F.gelu(self.up(x))))


class Model(nn.Module):
    def __init__(self, r, alpha):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, H)
        self.pos = nn.Embedding(MAXPOS, H)
        self.typ = nn.Embedding(2, H)
        self.ln = nn.LayerNorm(H, eps=1e-12)
        self.layers = nn.ModuleList(Layer(r, alpha) for _ in range(LAYERS))
        self.head = nn.Linear(H, 4)

    def forward(self, ids, mask):
        t = ids.shape[1]
        x = self.ln(self.tok(ids) + self.pos(torch.arange(t))[None] + self.typ(torch.zeros_like(ids)))
        bias = (1.0 - mask[:, None, None, :].float()) * -1e9
        for layer in self.layers:
            x = layer(x, bias)
        m = mask[..., None].float()
        return self.head((x * m).sum(1) / m.sum(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--autocast", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = Model(a.rank, 2 * a.rank)
    for name, p in model.named_parameters():
        p.requires_grad = name.endswith(".a") or name.endswith(".b") or name.startswith("head.")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    ids = torch.randint(0, VOCAB, (a.warmup + a.steps, a.batch, a.seq))
    labels = torch.randint(0, 4, (a.warmup + a.steps, a.batch))
    mask = torch.ones(a.batch, a.seq, dtype=torch.long)
    start = None
    for s in range(a.warmup + a.steps):
        if s == a.warmup:
            start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast):
            loss = F.cross_entropy(model(ids[s], mask).float(), labels[s])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    print(json.dumps({
        "engine": "pytorch " + torch.__version__,
        "compute": "bf16-autocast" if a.autocast else "fp32",
        "threads": a.threads,
        "tokens_per_s": round(a.batch * a.seq * a.steps / seconds, 1),
        "step_ms": round(seconds / a.steps * 1000, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }))


if __name__ == "__main__":
    main()
