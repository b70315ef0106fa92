#!/bin/sh
# tests/gpu/run.sh: on a machine with a GPU and the CUDA toolkit (no
# configure, no GSL/NLopt/cJSON/Lua needed): builds the kernels and the
# checks with nvcc, runs them, and prints the table of checks last.
# Run from the source root: sh tests/gpu/run.sh [seed]
set -e
B=${BUILD:-_build-gpu}
mkdir -p "$B"
KERNELS="kernels/peer.cu kernels/peer_scores.cu kernels/peer_route.cu kernels/peer_route_bwd.cu kernels/peer_expert.cu kernels/gemm.cu"
nvcc -std=c++17 -O3 -arch=sm_90 -Xcompiler -Wall,-Wextra,-Werror,-fopenmp -I. -Icommon \
    -o "$B/test_gpu_peer" tests/test_gpu_peer.cu tests/gpu/peer_ref.cu $KERNELS common/err.c \
    trainer/peer.c trainer/matmul.c -lcublasLt -lgomp
"$B/test_gpu_peer" "$@"
