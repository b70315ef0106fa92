#!/bin/sh
# peer_variants.sh: builds variants of the PEER kernels that differ in -D
# flags (the #ifndef defaults in kernels/peer*.cu), runs the GPU checks of the
# variants marked "test", then bench_peer for each, on a machine with a GPU
# (nvcc only, as tests/gpu/run.sh). Each argument: "name|flags|test" or
# "name|flags|". Run from the source root, e.g.
#   sh bench/peer_variants.sh "a||test" "b|-DPEER_OVERLAP=0|"
# Outputs in $BUILD (default _build-variants)/NAME/{test,bench}.out.
B=${BUILD:-_build-variants}
mkdir -p "$B"
NV="nvcc -std=c++17 -O3 -arch=sm_90 -I. -Icommon -Ikernels"
$NV -c kernels/gemm.cu -o "$B/gemm.o" &
$NV -c common/err.c -o "$B/err.o" &
$NV -Xcompiler -fopenmp -c trainer/peer.c -o "$B/tpeer.o" &
$NV -Xcompiler -fopenmp -c trainer/matmul.c -o "$B/tmatmul.o" &
$NV -Xcompiler -fopenmp -c tests/gpu/peer_ref.cu -o "$B/peer_ref.o" &
for spec in "$@"; do
    name=${spec%%|*}; rest=${spec#*|}; flags=${rest%%|*}
    mkdir -p "$B/$name"
    for k in peer peer_route peer_route_bwd peer_expert peer_scores; do
        $NV $flags -c kernels/$k.cu -o "$B/$name/$k.o" &
    done
    $NV -c bench/bench_peer.cu -o "$B/$name/bench.o" &
    $NV -Xcompiler -fopenmp -c tests/test_gpu_peer.cu -o "$B/$name/test.o" &
done
wait
for spec in "$@"; do
    name=${spec%%|*}; o="$B/$name"
    $NV -o "$o/bench_peer" "$o/bench.o" "$o"/peer*.o "$B/gemm.o" "$B/err.o" -lcublasLt &
    $NV -o "$o/test_gpu_peer" "$o/test.o" "$o"/peer*.o "$B/gemm.o" "$B/err.o" "$B/peer_ref.o" \
        "$B/tpeer.o" "$B/tmatmul.o" -lcublasLt -lgomp &
done
wait
for spec in "$@"; do
    name=${spec%%|*}; rest=${spec#*|}; tst=${rest#*|}; o="$B/$name"
    if [ "$tst" = test ]; then
        "$o/test_gpu_peer" > "$o/test.out" 2>&1
        echo "== $name checks: rc $?, $(grep -c '^ok' "$o/test.out") ok, $(grep -c '^not ok' "$o/test.out") not ok"
        grep '^not ok\|Bail' "$o/test.out" | head -20
    fi
done
for spec in "$@"; do
    name=${spec%%|*}; o="$B/$name"
    echo "== bench $name"
    "$o/bench_peer" > "$o/bench.out" 2>&1
    sed -n '/^stage/,$p' "$o/bench.out"
done
