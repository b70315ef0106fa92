#!/bin/sh
# tests/gpu/train_run.sh: `llm720 train --device cuda` end to end on a
# machine with a GPU, from a folder made by tests/gpu/train_stage.sh (the
# binary, its libraries, a prepared dataset). For each FFN kind of FFNS:
#   a. 10 steps of a small model (d_model 256, 2 layers, 8 x 64 tokens) on the CPU and on the GPU: the training and
#      validation losses of every step agree within 1%;
#  a1. one step from the same state (the CPU run's checkpoint of step 9,
#      step 10 on the GPU): the training loss of step 10 (one forward) and
#      the validation loss after it agree within 1%;
#   b. a second GPU run gives bitwise-identical losses;
#   c. 5 GPU steps (--stop-after) and --resume to 10 = 10 straight, bit for bit;
#   d. the GPU checkpoint at step 5 resumed on the CPU continues (within 2%
#      of the GPU run at every step);
# then, once:
#   e. --debug-nan-step 7 on the GPU: exit 1, the checkpoint of step 6 kept
#      (and it resumes);
#   f. a model too big for the GPU: exit 2 naming the bytes needed and free;
#   g. speed at the default size (dense, d_model 128, 4 layers, batch 16 x
#      256): CPU_STEPS steps on the CPU, GPU_STEPS on the GPU: tokens/s of
#      each, the ratio; last line `gpu_train_tokens_per_second X`.
# A table of the checks comes before the speed lines.
# Run from the source root: sh tests/gpu/train_run.sh STAGE
# Environment: FFNS (default "dense moe:4 peer:1024:2:8"), CPU_STEPS (20),
# GPU_STEPS (300), SPEED (0: no speed part), WORK (scratch folder, default
# /tmp/l720-train-run).
set -u
ST=${1:?usage: sh tests/gpu/train_run.sh STAGE}
L="$ST/llm720"
export LD_LIBRARY_PATH="$ST/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LLM720_NO_PROGRESS=1
D="$ST/data"
W=${WORK:-/tmp/l720-train-run}
rm -rf "$W"
mkdir -p "$W"
small="--data $D --d-model 256 --layers 2 --heads 4 --seq-len 64 --batch 8 --steps 10 \
 --eval-every 1 --eval-tokens 512 --warmup 2 --lr 0.002"
table=""
fails=0
row() { # check ffn result detail
    table="$table$(printf '%-4s %-14s %-5s %s' "$1" "$2" "$3" "$4")
"
    [ "$3" = ok ] || [ "$3" = skip ] || fails=$((fails + 1))
}
# name rundir args...: llm720 train into $W/rundir, its stderr in $W/name.err; the status
runo() {
    n=$1
    o=$2
    shift 2
    timeout 240 "$L" train "$@" --out "$W/$o" > "$W/$n.out" 2> "$W/$n.err"
}
run() { runo "$1" "$@"; } # name args...: into $W/name
# step train_loss val_loss of every evaluation
losses() { grep '"type":"eval"' "$W/$1/log.jsonl" | sed 's/.*"step":\([^,]*\).*"train_loss":\([^,]*\),"val_loss":\([^,]*\).*/\1 \2 \3/'; }
# largest relative difference of two loss files, step by step
maxrel() {
    losses "$1" > "$W/x1"
    losses "$2" > "$W/x2"
    [ -s "$W/x1" ] && [ "$(wc -l < "$W/x1")" = "$(wc -l < "$W/x2")" ] || { echo 1e9; return; }
    paste -d' ' "$W/x1" "$W/x2" | awk 'function a(x) { return x < 0 ? -x : x }
        { for (i = 2; i <= 3; i++) { r = a($i - $(i + 3)) / a($(i + 3)); if (r > m) m = r } }
        END { printf "%.2e\n", m }'
}
within() { awk -v x="$1" -v t="$2" 'BEGIN { exit !(x <= t) }'; }
err1() { head -c 150 "$W/$1.err" | tr '\n' ' '; }

echo "llm720: $(ldd "$L" | grep -c 'not found') libraries not found"
ldd "$L" | grep 'not found'
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

for ffn in ${FFNS:-dense moe:4 peer:1024:2:8}; do
    k=$(echo "$ffn" | cut -d: -f1)
    if ! run "$k-cpu" $small --ffn "$ffn" --device cpu; then
        row a "$ffn" FAIL "cpu run: $(err1 "$k-cpu")"
        continue
    fi
    if ! run "$k-gpu" $small --ffn "$ffn" --device cuda; then
        if grep -q 'no Switch-MoE layer' "$W/$k-gpu.err"; then
            row - "$ffn" skip "$(err1 "$k-gpu")"
        else
            row a "$ffn" FAIL "gpu run: $(err1 "$k-gpu")"
        fi
        continue
    fi
    m=$(maxrel "$k-cpu" "$k-gpu")
    within "$m" 0.01 && s=ok || s=FAIL
    row a "$ffn" "$s" "cpu vs gpu, 10 steps: max relative loss difference $m"
    paste -d' ' "$W/x1" "$W/x2" | awk -v f="$ffn" 'function r(a, b) { return (a > b ? a - b : b - a) / b }
        { printf "# %s step %s: train cpu %.5f gpu %.5f (%.1e)  val cpu %.5f gpu %.5f (%.1e)\n",
                 f, $1, $2, $5, r($5, $2), $3, $6, r($6, $3) }'

    # one step from the same state: the CPU's checkpoint of step 9, step 10 on the GPU
    run "$k-s9" $small --ffn "$ffn" --device cpu --stop-after 9 &&
        run "$k-s9" --data "$D" --resume --device cuda
    st=$?
    m=$( (losses "$k-cpu" | tail -1; losses "$k-s9" | tail -1) | tr '\n' ' ' |
        awk 'function a(x) { return x < 0 ? -x : x }
             { printf "train %.1e val %.1e\n", a($5 - $2) / $2, a($6 - $3) / $3 }')
    [ $st = 0 ] && within "$(echo "$m" | awk '{ print ($2 > $4 ? $2 : $4) }')" 0.01 && s=ok || s=FAIL
    row a1 "$ffn" "$s" "step 10 from the cpu's state of step 9: relative difference $m (status $st)"

    run "$k-gpu2" $small --ffn "$ffn" --device cuda
    losses "$k-gpu" > "$W/l1"
    losses "$k-gpu2" > "$W/l2"
    cmp -s "$W/l1" "$W/l2" && s=ok || s=FAIL
    row b "$ffn" "$s" "gpu rerun: losses bitwise identical"

    run "$k-res" $small --ffn "$ffn" --device cuda --stop-after 5 &&
        cp -r "$W/$k-res" "$W/$k-half" &&
        run "$k-res" --data "$D" --resume
    st=$?
    losses "$k-res" > "$W/l3"
    [ $st = 0 ] && cmp -s "$W/l1" "$W/l3" && s=ok || s=FAIL
    row c "$ffn" "$s" "gpu 5 steps + --resume = 10 straight, bitwise (status $st)"

    run "$k-half" --data "$D" --resume --device cpu
    st=$?
    m=$(maxrel "$k-gpu" "$k-half")
    [ $st = 0 ] && within "$m" 0.02 && grep -q '"device":"cpu"' "$W/$k-half/log.jsonl" && s=ok || s=FAIL
    row d "$ffn" "$s" "gpu checkpoint of step 5 resumed on the cpu: max relative difference $m (status $st)"
done

run nan $small --device cuda --debug-nan-step 7
st=$?
if [ $st = 1 ] && grep -q 'at step 7' "$W/nan.err" && [ -f "$W/nan/checkpoint.bin" ] &&
    tail -1 "$W/nan/log.jsonl" | grep -q '"step":6,' && runo nan-res nan --data "$D" --resume \
    --stop-after 1; then
    s=ok
else
    s=FAIL
fi
row e dense "$s" "--debug-nan-step 7: status $st, log ends at step 6, resumes; $(err1 nan)"

run big --data "$D" --d-model 8192 --layers 64 --heads 64 --device cuda
st=$?
[ $st = 2 ] && grep -q 'bytes' "$W/big.err" && grep -q 'free' "$W/big.err" && [ ! -e "$W/big/checkpoint.bin" ] &&
    s=ok || s=FAIL
row f dense "$s" "too big: status $st, $(err1 big)"

printf '\n%s\n' "----------------------------------------------------------------------------"
printf '%s' "$table"
printf '%s\n' "----------------------------------------------------------------------------"

# speed at the default size
tps() { grep '"type":"eval"' "$W/$1/log.jsonl" | tail -1 | sed 's/.*"tokens_per_second":\([^,]*\).*/\1/'; }
cs=${CPU_STEPS:-20}
gs=${GPU_STEPS:-300}
[ "${SPEED:-1}" = 1 ] || exit $((fails > 0))
for dev in cpu gpu; do
    [ $dev = cpu ] && k=$cs || k=$gs
    run speed-$dev --data "$D" --steps "$k" --eval-every "$k" --eval-tokens 4096 \
        --device "$([ $dev = cpu ] && echo cpu || echo cuda)" || {
        echo "speed run on the $dev failed: $(err1 speed-$dev)"
        fails=$((fails + 1))
    }
done
c=$(tps speed-cpu 2> /dev/null)
g=$(tps speed-gpu 2> /dev/null)
echo "default size, dense: cpu ($(nproc) threads, $cs steps) $c tokens/s; gpu ($gs steps) $g tokens/s"
awk -v c="$c" -v g="$g" 'BEGIN { if (c > 0) printf "gpu_over_cpu_ratio %.1f\n", g / c }'
echo "gpu_train_tokens_per_second $g"
exit $((fails > 0))
