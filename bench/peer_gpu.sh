#!/bin/sh
# peer_gpu.sh: builds bench_peer with nvcc (no configure needed) and runs it
# and the PyTorch baseline (peer_torch.py) at the same shape, in one go.
# Prints both, the ratio, and last: peer_fwd_bwd_ms VALUE.
# Run from the source root on a machine with a GPU: sh bench/peer_gpu.sh [bench_peer options]
set -e
B=${BUILD:-_build-gpu}
mkdir -p "$B"
nvcc -std=c++17 -O3 -arch=sm_90 -I. -Icommon -o "$B/bench_peer" bench/bench_peer.cu \
    kernels/peer.cu kernels/peer_route.cu kernels/peer_route_bwd.cu kernels/peer_expert.cu kernels/peer_scores.cu \
    kernels/gemm.cu common/err.c -lcublasLt
"$B/bench_peer" "$@" | tee "$B/bench_peer.out"
ours=$(awk '/^peer_fwd_bwd_ms/ {print $2}' "$B/bench_peer.out")
torch_out=$(PYTHONUNBUFFERED=1 python3 bench/peer_torch.py "$@" 2>&1) || true
echo "$torch_out"
t32=$(echo "$torch_out" | awk '/^torch_peer_fp32_ms/ {print $2}')
t16=$(echo "$torch_out" | awk '/^torch_peer_bf16_ms/ {print $2}')
echo "ratio torch_fp32/ours $(awk -v a="$t32" -v b="$ours" 'BEGIN{ if (a+0 > 0) printf "%.1f", a/b; else print "n/a" }')"
echo "ratio torch_bf16/ours $(awk -v a="$t16" -v b="$ours" 'BEGIN{ if (a+0 > 0) printf "%.1f", a/b; else print "n/a" }')"
echo "peer_fwd_bwd_ms $ours"
