#!/bin/sh
# tests/gpu/dense_run.sh: on a machine with a GPU and the CUDA toolkit (no
# configure needed): builds the dense kernels, their checks against the CPU
# trainer (tests/test_gpu_dense) and the GPT-2-small benchmark with nvcc/gcc,
# runs the checks (table last) and, with BENCH=1, the benchmark.
# Run from the source root: sh tests/gpu/dense_run.sh [seed]
set -e
B=${BUILD:-_build-gpu}
mkdir -p "$B"
NV="nvcc -std=c++17 -O3 -arch=sm_90 -Xcompiler -Wall,-Wextra,-Werror,-fopenmp -I. -Icommon"
K="kernels/dense_kernels.cu kernels/dense_attn.cu kernels/dense_model.cu kernels/gemm.cu"
CPU="trainer/model.c trainer/model_pass.c trainer/matmul.c trainer/rmsnorm.c trainer/rope.c
 trainer/attention.c trainer/swiglu.c trainer/crossentropy.c trainer/moe.c trainer/peer.c
 trainer/trng.c trainer/optim.c common/err.c"
for f in $CPU; do
    gcc -std=c11 -D_GNU_SOURCE -O2 -fopenmp -Wall -Wextra -Werror -I. -Icommon -Itrainer -c "$f" \
        -o "$B/$(basename "$f" .c).o"
done
OBJS=$(for f in $CPU; do printf '%s ' "$B/$(basename "$f" .c).o"; done)
$NV -o "$B/test_gpu_dense" tests/test_gpu_dense.cu $K $OBJS -lcublasLt -lgomp -lm
$NV -o "$B/bench_dense" bench/bench_dense.cu $K common/err.c -lcublasLt
"$B/test_gpu_dense" "$@"
if [ "${BENCH:-0}" = 1 ]; then
    for b in ${BENCH_B:-8}; do "$B/bench_dense" "$b" 10; done
fi
