#!/bin/sh
# tests/gpu/moe_run.sh: on a machine with a GPU and the CUDA toolkit (no
# configure needed): builds the Switch-MoE layer, its checks against the CPU
# trainer's layer (tests/test_gpu_moe) and the layer benchmark with nvcc/gcc,
# runs, with BENCH=1, the benchmark, then the checks (table last).
# Run from the source root: sh tests/gpu/moe_run.sh [seed]
set -e
B=${BUILD:-_build-gpu-moe}
mkdir -p "$B"
NV="nvcc -std=c++17 -O3 -arch=sm_90 -Xcompiler -Wall,-Wextra,-Werror,-fopenmp -I. -Icommon"
K="kernels/moe_gpu.cu kernels/moe_kernels.cu kernels/dense_kernels.cu kernels/gemm.cu"
CPU="trainer/moe.c trainer/matmul.c trainer/swiglu.c common/err.c"
for f in $CPU; do
    gcc -std=c11 -D_GNU_SOURCE -O2 -fopenmp -Wall -Wextra -Werror -I. -Icommon -Itrainer -c "$f" \
        -o "$B/$(basename "$f" .c).o"
done
OBJS=$(for f in $CPU; do printf '%s ' "$B/$(basename "$f" .c).o"; done)
$NV -o "$B/test_gpu_moe" tests/test_gpu_moe.cu $K $OBJS -lcublasLt -lgomp -lm
if [ "${BENCH:-0}" = 1 ]; then
    $NV -o "$B/bench_moe_layer" bench/bench_moe_layer.cu $K common/err.c \
        -lcublasLt
    "$B/bench_moe_layer" || echo "bench_moe_layer failed: $?"
fi
"$B/test_gpu_moe" "$@"
