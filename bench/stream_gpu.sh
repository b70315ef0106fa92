#!/bin/bash
# stream_gpu.sh: builds and runs the expert-streaming benchmark on a GPU
# machine (only nvcc and the CUDA runtime needed), from the repository root:
#   bash bench/stream_gpu.sh [OUTDIR]
# OUTDIR (default $OUT, else ./stream_out) receives stream_micro.csv,
# stream_steps.csv, stream_profile.json, traces.tar.gz and stream_log.txt,
# plus stream_micro_repeat.csv and stream_steps_repeat.csv from a second
# whole run (the run-to-run spread).
set -euo pipefail
out=${1:-${OUT:-stream_out}}
mkdir -p "$out"
log="$out/stream_log.txt"
work=$(mktemp -d)
{
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(hostname)"
    nvidia-smi --query-gpu=name,driver_version,pcie.link.gen.current,pcie.link.width.current,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv || true
    nvcc --version | tail -1
    nvcc -std=c++17 -O3 -arch=sm_90 -Xcompiler -Wall,-Wextra,-Werror -Ikernels \
        kernels/stream_bench.cu kernels/stream_sched.c kernels/stream_configs.c -o "$work/bench_stream"
    "$work/bench_stream" "$work/run"
    "$work/bench_stream" "$work/repeat"
} 2>&1 | tee "$log"
cp "$work"/run/stream_*.csv "$work"/run/stream_profile.json "$out"/
cp "$work/repeat/stream_micro.csv" "$out/stream_micro_repeat.csv"
cp "$work/repeat/stream_steps.csv" "$out/stream_steps_repeat.csv"
tar -C "$work/run" -czf "$out/traces.tar.gz" traces
rm -rf "$work"
