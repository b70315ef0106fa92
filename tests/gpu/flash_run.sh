#!/bin/sh
# tests/gpu/flash_run.sh: on a machine with a GPU and the CUDA toolkit (no
# configure needed): builds the fused attention (kernels/flash_attn*.cu), its
# checks (tests/test_gpu_flash: against trainer/attention.c and the batched
# path) and its benchmark (bench/bench_flash) with nvcc/gcc; runs the checks,
# with SAN=1 also under compute-sanitizer memcheck and racecheck on the small
# shapes, then the benchmark; prints the table of checks and the benchmark's
# table last. Run from the source root: sh tests/gpu/flash_run.sh [seed]
B=${BUILD:-_build-gpu}
mkdir -p "$B"
NV="nvcc -std=c++17 -O3 -arch=sm_90 -Xcompiler -Wall,-Wextra,-Werror,-fopenmp -I. -Icommon"
K="kernels/flash_attn.cu kernels/flash_attn_bwd.cu kernels/dense_kernels.cu kernels/dense_attn.cu kernels/gemm.cu"
for f in trainer/attention.c common/err.c; do
    gcc -std=c11 -D_GNU_SOURCE -O2 -fopenmp -Wall -Wextra -Werror -I. -Icommon -Itrainer -c "$f" \
        -o "$B/flash_$(basename "$f" .c).o" || exit 1
done
$NV -o "$B/test_gpu_flash" tests/test_gpu_flash.cu $K "$B/flash_attention.o" "$B/flash_err.o" \
    -lcublasLt -lgomp -lm || exit 1
$NV -o "$B/bench_flash" bench/bench_flash.cu $K "$B/flash_err.o" -lcublasLt || exit 1
SEED=${1:-$(date +%s)}
"$B/test_gpu_flash" "$SEED" > "$B/flash_checks.txt" 2>&1
RC=$?
grep -v '^# ' "$B/flash_checks.txt"
if [ "${SAN:-0}" = 1 ] && command -v compute-sanitizer > /dev/null; then
    for tool in memcheck racecheck; do
        timeout ${SAN_S:-120} compute-sanitizer --tool $tool "$B/test_gpu_flash" "$SEED" small > "$B/flash_$tool.txt" 2>&1
        echo "sanitizer $tool: exit $? ($(grep -c '^ok' "$B/flash_$tool.txt") checks ok)"; tail -3 "$B/flash_$tool.txt"
    done
fi
"$B/bench_flash" ${BENCH_ARGS:-8 1024}
echo "---- checks (exit $RC)"
grep '^# ' "$B/flash_checks.txt"
exit $RC
