#!/bin/sh
# stream_compare.sh: measured vs simulated expert-streaming step times.
#   sh bench/stream_compare.sh [STEPS.csv[,STEPS.csv...]] [HARDWARE] [OUT.csv]
# Run from a configured build directory (the source tree or a _build*). It
# rebuilds the benchmark's routing traces without a GPU (bench_stream_traces:
# the same files the GPU run replayed) and has llm720 sim replay each
# workload of STEPS.csv (default: the three H100 runs in bench/, medians
# over the runs) on HARDWARE
# (default h100-sxm) with the measured per-layer compute time.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
b=$src/bench/stream_h100_steps
steps=${1:-${b}_0425.csv,${b}_0435a.csv,${b}_0435b.csv}
hw=${2:-h100-sxm}
out=${3:-}
make -s bench/bench_stream_traces llm720 >/dev/null
traces=$(mktemp -d)
trap 'rm -rf "$traces"' EXIT
./bench/bench_stream_traces "$traces" >/dev/null
./llm720 run "$src/bench/stream_compare.lua" "$steps" "$traces" "$hw" $out
