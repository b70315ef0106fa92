#!/bin/sh
# bench/flash_tune.sh: on a machine with a GPU and the CUDA toolkit, from the
# source root: builds bench_flash once per tile-shape variant (a header of
# FLASH_* defines given to nvcc with -include; see kernels/flash_attn.cu and
# flash_attn_bwd.cu) and runs each; prints one table of fwd/bwd milliseconds
# per variant and head size last. With TEST=1 also builds and runs the checks
# (tests/test_gpu_flash) of the variants named in TEST_VARIANTS (default: all).
# With PICK=1 (and TEST=1) it then takes, per head size, the forward and the
# backward shapes of the fastest variants whose checks passed, builds that
# pick, runs its checks (and, with SAN=1, compute-sanitizer memcheck and
# racecheck on the small shapes) and its benchmark.
# The objects that do not depend on the tile shapes are built once.
# Usage: sh bench/flash_tune.sh [B T]   (default 8 1024)
B=${BUILD:-_build-gpu}/tune
mkdir -p "$B"
NV="nvcc -std=c++17 -O3 -arch=sm_90 -Xcompiler -Wall,-Wextra,-Werror,-fopenmp -I. -Icommon"
: > "$B/default.h"
variant() { # name, then the lines of its header
    n=$1; shift; : > "$B/$n.h"
    for l in "$@"; do echo "#define $l" >> "$B/$n.h"; done
}
# tuples: FWD (warps, row blocks per warp, keys per tile, least blocks per SM, Q in registers),
# DKDV (warps, key blocks per warp, queries per tile, least blocks per SM, K and V in registers),
# DQ (warps, query blocks per warp, keys per tile, least blocks per SM, Q and dy in registers)
variant qr2 "FLASH_FWD64 4, 2, 64, 2, 1" "FLASH_DKDV64 4, 1, 64, 2, 0" "FLASH_DQ64 4, 1, 64, 2, 0" \
    "FLASH_FWD32 4, 2, 64, 2, 1" "FLASH_DKDV32 4, 1, 64, 3, 1" "FLASH_DQ32 4, 1, 64, 3, 1" \
    "FLASH_FWD128 4, 1, 64, 2, 1" "FLASH_DQ128 4, 1, 32, 2, 0" "FLASH_DKDV128 4, 1, 32, 2, 0"
variant mb2 "FLASH_FWD64 4, 1, 64, 4, 1" "FLASH_DKDV64 4, 2, 32, 2, 0" "FLASH_DQ64 4, 2, 32, 2, 0" \
    "FLASH_FWD32 4, 1, 64, 4, 1" "FLASH_DKDV32 4, 2, 32, 2, 0" "FLASH_DQ32 4, 2, 32, 2, 0" \
    "FLASH_FWD128 4, 1, 32, 2, 1" "FLASH_DQ128 4, 1, 32, 2, 1"
variant w2 "FLASH_FWD64 2, 2, 64, 4, 0" "FLASH_DKDV64 2, 2, 32, 4, 0" "FLASH_DQ64 2, 2, 32, 4, 0" \
    "FLASH_FWD32 2, 2, 64, 4, 0" "FLASH_DKDV32 2, 2, 32, 4, 0" "FLASH_DQ32 2, 2, 32, 4, 0" \
    "FLASH_DKDV128 2, 1, 32, 3, 0" "FLASH_DQ128 2, 1, 64, 3, 0"
variant q16 "FLASH_FWD64 8, 1, 64, 1, 1" "FLASH_DKDV64 4, 2, 16, 2, 0" "FLASH_DQ64 4, 2, 16, 3, 0" \
    "FLASH_DQ32 4, 2, 16, 3, 0"
variant ar "FLASH_FWD64 4, 2, 32, 2, 1" "FLASH_DKDV64 4, 1, 64, 2, 1" "FLASH_DQ64 4, 1, 64, 2, 1"
# second call: QR/AR 2 = the next tile's scores computed during this tile's softmax or pointwise step
variant pa "FLASH_FWD64 4, 1, 64, 3, 2" "FLASH_DKDV64 4, 1, 64, 2, 2" "FLASH_DQ64 4, 1, 64, 2, 2" \
    "FLASH_FWD32 4, 1, 64, 4, 2" "FLASH_DKDV32 2, 2, 32, 4, 2" "FLASH_DQ32 2, 2, 32, 4, 2" \
    "FLASH_FWD128 4, 1, 32, 2, 2" "FLASH_DKDV128 4, 1, 32, 1, 2" "FLASH_DQ128 4, 1, 64, 1, 2"
variant pb "FLASH_FWD64 4, 2, 32, 2, 2" "FLASH_DKDV64 2, 1, 64, 4, 2" "FLASH_DQ64 2, 1, 64, 4, 2" \
    "FLASH_FWD32 4, 2, 32, 2, 2" "FLASH_DKDV32 4, 1, 64, 3, 2" "FLASH_DQ32 4, 1, 64, 3, 2" \
    "FLASH_FWD128 8, 1, 32, 1, 2" "FLASH_DKDV128 2, 1, 32, 3, 2" "FLASH_DQ128 4, 1, 32, 2, 2"
variant pc "FLASH_FWD64 8, 1, 64, 1, 2" "FLASH_DKDV64 2, 2, 32, 4, 0" "FLASH_DQ64 4, 1, 64, 2, 2" \
    "FLASH_FWD32 2, 2, 64, 4, 2" "FLASH_FWD128 4, 1, 64, 2, 2"
variant pd "FLASH_FWD64 4, 2, 64, 2, 2" "FLASH_DKDV64 4, 1, 64, 2, 2" "FLASH_DQ64 2, 2, 32, 4, 0"
variant pe "FLASH_FWD64 4, 1, 64, 3, 2" "FLASH_DKDV64 4, 1, 32, 2, 2" "FLASH_DQ64 2, 2, 32, 4, 2"
variant mx1 "FLASH_DKDV64 2, 2, 32, 4, 0" "FLASH_DQ64 4, 1, 64, 3, 0"
variant mx2 "FLASH_DKDV64 4, 1, 64, 3, 0" "FLASH_DQ64 2, 2, 32, 4, 0"
variant exact "FLASH_EXACT_EXP2"
VARIANTS=${VARIANTS:-default pa pb pc pd pe mx1 mx2}
# the objects that do not depend on the tile shapes, once
for f in kernels/dense_kernels.cu kernels/dense_attn.cu kernels/gemm.cu bench/bench_flash.cu \
    tests/test_gpu_flash.cu; do
    $NV -c -o "$B/$(basename "$f" .cu).o" "$f" > "$B/build_$(basename "$f" .cu).txt" 2>&1 &
done
for f in trainer/attention.c common/err.c; do
    gcc -std=c11 -D_GNU_SOURCE -O2 -fopenmp -Wall -Wextra -Werror -I. -Icommon -Itrainer \
        -c "$f" -o "$B/$(basename "$f" .c).o" &
done
for v in $VARIANTS pick; do
    [ "$v" = pick ] && continue
    for f in flash_attn flash_attn_bwd; do
        $NV -include "$B/$v.h" -c -o "$B/${v}_$f.o" "kernels/$f.cu" > "$B/build_${v}_$f.txt" 2>&1 &
    done
done
wait
cat "$B"/build_*.txt | head -20
D="$B/dense_kernels.o $B/dense_attn.o $B/gemm.o $B/err.o"
link() { # variant: bench_V and test_V
    $NV -o "$B/bench_$1" "$B/bench_flash.o" "$B/$1_flash_attn.o" "$B/$1_flash_attn_bwd.o" $D \
        -lcublasLt -lgomp &
    $NV -o "$B/test_$1" "$B/test_gpu_flash.o" "$B/$1_flash_attn.o" "$B/$1_flash_attn_bwd.o" $D \
        "$B/attention.o" -lcublasLt -lgomp -lm &
    wait
}
for v in $VARIANTS; do
    link $v > "$B/link_$v.txt" 2>&1 &
done
wait
if [ "${TEST:-0}" = 1 ]; then
    for v in ${TEST_VARIANTS:-$VARIANTS}; do
        "$B/test_$v" > "$B/test_$v.txt" 2>&1
        echo $? > "$B/test_$v.rc"
        echo "checks $v: exit $(cat "$B/test_$v.rc") ($(grep -c '^ok' "$B/test_$v.txt") ok, $(grep -c '^not ok' "$B/test_$v.txt") not ok)"
        grep '^not ok\|Bail' "$B/test_$v.txt" | head -5
        head -5 "$B/link_$v.txt"
    done
fi
for v in $VARIANTS; do
    "$B/bench_$v" ${1:-8} ${2:-1024} > "$B/bench_$v.txt" 2>&1 || tail -3 "$B/bench_$v.txt"
done
echo "---- variants (ms, median of 20; columns: fwd bwd total)"
for v in $VARIANTS; do
    echo "== $v: $(tr '\n' ' ' < "$B/$v.h")"
    grep '^flash hs\|^batched' "$B/bench_$v.txt"
done
if [ "${PICK:-0}" = 1 ]; then
    : > "$B/pick.h"
    ok=$(for v in $VARIANTS; do [ "$(cat "$B/test_$v.rc" 2>/dev/null)" = 0 ] && echo $v; done)
    for hs in 32 64 128; do
        best() { # column: 4 forward, 5 backward
            for v in $ok; do
                awk -v v=$v -v hs=$hs -v c=$1 '$1 == "flash" && $3 == hs { print $c, v }' "$B/bench_$v.txt"
            done | sort -n | head -1 | cut -d' ' -f2
        }
        bf=$(best 4)
        bb=$(best 5)
        grep "FLASH_FWD$hs " "$B/$bf.h" >> "$B/pick.h"
        grep -E "FLASH_(DKDV|DQ)$hs " "$B/$bb.h" >> "$B/pick.h"
        echo "pick hs $hs: forward of $bf, backward of $bb"
    done
    echo "== pick: $(tr '\n' ' ' < "$B/pick.h")"
    for f in flash_attn flash_attn_bwd; do
        $NV -include "$B/pick.h" -c -o "$B/pick_$f.o" "kernels/$f.cu" &
    done
    wait
    link pick
    "$B/test_pick" > "$B/test_pick.txt" 2>&1
    echo "checks pick: exit $? ($(grep -c '^ok' "$B/test_pick.txt") ok, $(grep -c '^not ok' "$B/test_pick.txt") not ok)"
    if [ "${SAN:-0}" = 1 ] && command -v compute-sanitizer > /dev/null; then
        for tool in memcheck racecheck; do
            timeout ${SAN_S:-120} compute-sanitizer --tool $tool "$B/test_pick" 1 small \
                > "$B/pick_$tool.txt" 2>&1
            echo "sanitizer $tool: exit $? ($(grep -c '^ok' "$B/pick_$tool.txt") checks ok); $(grep 'SUMMARY' "$B/pick_$tool.txt")"
        done
    fi
    "$B/bench_pick" ${1:-8} ${2:-1024}
    echo "---- checks of the pick"
    grep '^# ' "$B/test_pick.txt"
fi
