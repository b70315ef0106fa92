#!/bin/sh
# bench/dense_profile.sh: where the dense GPT-2-small step's GPU time goes.
# Run from the source root on a machine with a GPU, after
# tests/gpu/model_run.sh has built $BUILD/bench_dense. Profiles the first
# LAUNCHES kernel launches of `bench_dense B 1` (the warm-up steps: every
# kernel of a step several times), sums the kernel durations per kernel name
# and prints the largest shares and the sum. The profiler runs each kernel
# alone at the card's own clocks (no clock control), so the sum over one
# step's kernels, against the step's time, bounds the idle time between them.
# Usage: sh bench/dense_profile.sh [B] [LAUNCHES]
set -e
B=${BUILD:-_build-gpu}
csv=${OUT:-/tmp}/dense_profile.csv
ncu --csv --clock-control none --metrics gpu__time_duration.sum --launch-count "${2:-1000}" \
    "$B/bench_dense" "${1:-8}" 1 >"$csv" 2>/dev/null || true
# fields are quoted and separated by ","; the kernel name is field 5, the value the last
awk -F'","' '$13 == "gpu__time_duration.sum" {
        v = $NF; gsub(/"/, "", v); gsub(/,/, "", v);
        name = substr($5, 1, 90); t[name] += v; n[name]++; all += v }
    END { for (k in t) printf "%6.2f%% %5d %s\n", 100 * t[k] / all, n[k], k;
          printf "%6.2f%% %5d all kernels, %.3f ms\n", 100, 0, all / 1e6 }' "$csv" | sort -rn | head -30
