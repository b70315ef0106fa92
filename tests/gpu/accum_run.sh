#!/bin/sh
# tests/gpu/accum_run.sh: on a machine with a GPU and the CUDA toolkit (no
# configure needed): builds the GPU model, the gradient-accumulation check
# (tests/test_gpu_accum), the whole-model, dense and MoE-layer checks (which
# the accumulating backward touches: tests/test_gpu_model, test_gpu_dense,
# test_gpu_moe) and the MoE step benchmark with nvcc/gcc; runs the checks,
# then, with BENCH=1, bench_moe_step B steps K (BENCH_ARGS, default "8 5 8");
# a summary table last. Run from the source root: sh tests/gpu/accum_run.sh [seed]
set -e
B=${BUILD:-_build-gpu-accum}
mkdir -p "$B"
. tests/gpu/model_sources.sh
model_objects "$B"
for t in test_gpu_accum test_gpu_model test_gpu_dense test_gpu_moe; do
    $NV -o "$B/$t" "tests/$t.cu" $KO $OBJS -lcublasLt -lgomp -lm &
done
$NV -o "$B/bench_moe_step" bench/bench_moe_step.cu $KO $OBJS -lcublasLt -lgomp -lm &
wait
st=0
for t in test_gpu_accum test_gpu_dense test_gpu_model test_gpu_moe; do
    "$B/$t" "$@" > "$B/$t.log" 2>&1 || st=1
done
cat "$B/test_gpu_accum.log"
if [ "${BENCH:-0}" = 1 ]; then
    "$B/bench_moe_step" ${BENCH_ARGS:-8 5 8} > "$B/bench.log" 2>&1 || st=1
    cat "$B/bench.log"
fi
echo "# summary"
for t in test_gpu_accum test_gpu_dense test_gpu_model test_gpu_moe; do
    printf '# %-16s %s of %s ok\n' "$t" "$(grep -c '^ok' "$B/$t.log")" \
        "$(sed -n 's/^1\.\.//p' "$B/$t.log")"
done
grep '^not ok' "$B"/test_gpu_*.log || true
[ -f "$B/bench.log" ] && grep -A3 '^overhead vs dense' "$B/bench.log" && grep '^moe_step' "$B/bench.log"
exit $st
