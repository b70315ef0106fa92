#!/bin/sh
# tests/gpu/all_run.sh: every GPU check of the kernels and the GPU model in
# one call, on a machine with a GPU and the CUDA toolkit (no configure
# needed): PEER (tests/gpu/run.sh), the dense kernels, the whole model, the
# MoE layer and gradient accumulation (tests/gpu/accum_run.sh), and the fused
# attention (tests/gpu/flash_run.sh, with its benchmark). Full logs go to LOGS
# (default $OUT or /tmp/l720-gpu-all); a table of passed / failed checks per
# program comes last. Exit status 0 when every program passed.
# Run from the source root: sh tests/gpu/all_run.sh [seed]
L=${LOGS:-${OUT:-/tmp/l720-gpu-all}}
mkdir -p "$L"
st=0
for s in run accum_run flash_run; do
    if sh "tests/gpu/$s.sh" "$@" > "$L/$s.txt" 2>&1; then r=0; else r=$?; st=1; fi
    echo "$s $r" >> "$L/status.txt"
done
echo "# script          exit  ok  not-ok"
while read -r s r; do
    printf '# %-15s %4s %4s %4s\n' "$s" "$r" "$(grep -c '^ok' "$L/$s.txt")" \
        "$(grep -c '^not ok' "$L/$s.txt")"
done < "$L/status.txt"
grep -h '^# test_gpu_[a-z]* *[0-9]* of' "$L/accum_run.txt"
for s in run accum_run flash_run; do grep '^not ok' "$L/$s.txt"; done
rm -f "$L/status.txt"
exit $st
