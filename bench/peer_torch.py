#!/usr/bin/env python3
"""peer_torch.py: a plain PyTorch PEER layer (product keys, BatchNorm query,
embedding gathers, autograd), the baseline for bench_peer. Same shape and
function as kernels/peer_gpu.h. Times forward + backward with CUDA events, median
of --reps after --warmup, in fp32 and in bf16 autocast, and prints
  torch_peer_fp32_ms VALUE
  torch_peer_bf16_ms VALUE
Needs PyTorch with CUDA (the product itself does not)."""
import argparse
import math

import torch
import torch.nn.functional as F


class PEER(torch.nn.Module):
    def __init__(self, d, n, h, k, dk):
        super().__init__()
        self.n, self.h, self.k, self.dk = n, h, k, dk
        self.wq = torch.nn.Linear(d, h * dk, bias=False)
        self.bn = torch.nn.BatchNorm1d(h * dk)
        self.keys = torch.nn.Parameter(torch.randn(h, 2, n, dk // 2) / math.sqrt(dk // 2))
        self.u = torch.nn.Embedding(n * n, d)
        self.v = torch.nn.Embedding(n * n, d)
        torch.nn.init.normal_(self.u.weight, std=1 / math.sqrt(d))
        torch.nn.init.normal_(self.v.weight, std=1 / math.sqrt(d))

    def forward(self, x):  # x [T, d]
        T, n, h, k = x.shape[0], self.n, self.h, self.k
        q = self.bn(self.wq(x)).view(T, h, 2, self.dk // 2)
        s = torch.einsum("thpc,hpnc->thpn", q, self.keys.to(q.dtype))  # [T, h, 2, n]
        s1, i1 = s[:, :, 0].topk(k, dim=-1)
        s2, i2 = s[:, :, 1].topk(k, dim=-1)
        sums = (s1[..., :, None] + s2[..., None, :]).reshape(T, h, k * k)
        cand = (i1[..., :, None] * n + i2[..., None, :]).reshape(T, h, k * k)
        sc, pos = sums.topk(k, dim=-1)
        ids = cand.gather(-1, pos)  # [T, h, k]
        g = sc.float().softmax(-1)
        ue = self.u(ids)  # [T, h, k, d]
        a = torch.einsum("thkd,td->thk", ue, x)
        ve = self.v(ids)
        return torch.einsum("thk,thkd->td", g * F.gelu(a.float()), ve)


def bench(layer, x, dy, reps, warmup, bf16):
    times = []
    for it in range(warmup + reps):
        layer.zero_grad(set_to_none=True)
        x.grad = None
        e0 = torch.cuda.Event(enable_timing=True)
        e1 = torch.cuda.Event(enable_timing=True)
        e0.record()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            y = layer(x)
        y.backward(dy.to(y.dtype))
        e1.record()
        torch.cuda.synchronize()
        if it >= warmup:
            times.append(e0.elapsed_time(e1))
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=32768)
    ap.add_argument("--d", type=int, default=1024)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--topk", type=int, default=16)
    ap.add_argument("--dk", type=int, default=128)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")
    layer = PEER(a.d, a.n, a.heads, a.topk, a.dk).cuda().train()
    x = torch.randn(a.tokens, a.d, device="cuda", requires_grad=True)
    dy = torch.randn(a.tokens, a.d, device="cuda")
    for name, bf16 in (("fp32", False), ("bf16", True)):
        try:
            ms = bench(layer, x, dy, a.reps, a.warmup, bf16)
            print(f"torch_peer_{name}_ms {ms:.3f}", flush=True)
        except torch.cuda.OutOfMemoryError:
            print(f"torch_peer_{name}_ms nan  # out of GPU memory", flush=True)
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
