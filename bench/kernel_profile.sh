#!/bin/sh
# bench/kernel_profile.sh: where a GPU program's time goes, kernel by kernel.
# Run from the source root on a machine with a GPU and the profiler. Profiles
# the first LAUNCHES kernel launches of PROGRAM ARGS..., sums the kernel
# durations per kernel name and prints the largest shares and the sum. The
# profiler runs each kernel alone at the card's own clocks (no clock control),
# so the sum over one step's kernels, against the step's time, bounds the idle
# time between them.
# Usage: sh bench/kernel_profile.sh LAUNCHES PROGRAM [ARGS...]
#   e.g. sh bench/kernel_profile.sh 900 _build-gpu/bench_dense 8 1
set -e
n=${1:?usage: sh bench/kernel_profile.sh LAUNCHES PROGRAM [ARGS...]}
shift
csv=${OUT:-/tmp}/kernel_profile.csv
ncu --csv --clock-control none --metrics gpu__time_duration.sum --launch-count "$n" "$@" \
    >"$csv" 2>/dev/null || true
# fields are quoted and separated by ","; the kernel name is field 5, the value the last
awk -F'","' '$13 == "gpu__time_duration.sum" {
        v = $NF; gsub(/"/, "", v); gsub(/,/, "", v);
        name = substr($5, 1, 90); t[name] += v; n[name]++; all += v }
    END { for (k in t) printf "%6.2f%% %5d %s\n", 100 * t[k] / all, n[k], k;
          printf "%6.2f%% %5d all kernels, %.3f ms\n", 100, 0, all / 1e6 }' "$csv" | sort -rn | head -30
