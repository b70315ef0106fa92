#!/bin/sh
# tests/gpu/model_run.sh: on a machine with a GPU and the CUDA toolkit (no
# configure, no GSL/cJSON/Lua needed): builds the whole GPU model
# (kernels/gpu_model*.cu with the dense, PEER and MoE layers), its checks
# against the CPU model (tests/test_gpu_model, tests/test_gpu_dense) and the
# dense benchmark with nvcc/gcc, runs the checks (tables last) and, with
# BENCH=1, the benchmark (BENCH_B: batch sizes, default 8).
# Run from the source root: sh tests/gpu/model_run.sh [seed]
set -e
B=${BUILD:-_build-gpu}
mkdir -p "$B"
. tests/gpu/model_sources.sh
model_objects "$B"
$NV -o "$B/test_gpu_model" tests/test_gpu_model.cu $KO $OBJS -lcublasLt -lgomp -lm
$NV -o "$B/test_gpu_dense" tests/test_gpu_dense.cu $KO $OBJS -lcublasLt -lgomp -lm
$NV -o "$B/bench_dense" bench/bench_dense.cu $KO $OBJS -lcublasLt -lgomp -lm
$NV -o "$B/bench_moe_step" bench/bench_moe_step.cu $KO $OBJS -lcublasLt -lgomp -lm
st=0
"$B/test_gpu_dense" "$@" || st=1
"$B/test_gpu_model" "$@" || st=1
if [ "${BENCH:-0}" = 1 ]; then
    for b in ${BENCH_B:-8}; do "$B/bench_dense" "$b" 10; done
    [ "${BENCH_MOE:-1}" = 1 ] && "$B/bench_moe_step" "${BENCH_MOE_B:-8}" 10
fi
exit $st
