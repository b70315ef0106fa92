#!/bin/sh
# bench/dense_gpu.sh: on a machine with a GPU and the CUDA toolkit, from the
# source root: the GPU checks (tests/gpu/model_run.sh: dense kernels and the
# whole model), then the GPT-2-small training-step benchmark
# at each batch given (default 8 and 64 sequences of 1024 tokens); each
# benchmark prints `dense_mfu` last. Usage: sh bench/dense_gpu.sh [B ...]
BENCH=1 BENCH_B="${*:-8 64}" exec sh tests/gpu/model_run.sh
