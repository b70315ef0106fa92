#!/bin/sh
# tests/gpu/cuda_sizes.sh: the largest and the odd models of the scripts'
# `--device cuda` sizes (scripts/*.lua) for 2 steps each on the GPU, so a
# shape the GPU layers refuse shows up before a long sweep: one line per
# model with its status and tokens/s. Run from the source root of a GPU
# machine with a folder made by tests/gpu/train_stage.sh:
#   sh tests/gpu/cuda_sizes.sh STAGE
set -u
ST=${1:?usage: sh tests/gpu/cuda_sizes.sh STAGE}
export LD_LIBRARY_PATH="$ST/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LLM720_NO_PROGRESS=1
W=${WORK:-/tmp/l720-cuda-sizes}
rm -rf "$W"
mkdir -p "$W"
fails=0
# name, then the run's keys (batch 32 x 256 tokens, as the scripts' cuda sizes)
while read -r name keys; do
    [ -n "$name" ] || continue
    timeout 120 "$ST/llm720" train --data "$ST/data" --out "$W/$name" --device cuda --steps 2 \
        --eval-every 2 --eval-tokens 2048 --batch 32 --seq-len 256 $keys > /dev/null 2> "$W/err"
    st=$?
    [ $st = 0 ] || fails=$((fails + 1))
    tps=$(grep '"type":"eval"' "$W/$name/log.jsonl" 2> /dev/null | tail -1 |
        sed 's/.*"tokens_per_second":\([^,]*\).*/\1/')
    printf '%-26s status %s  %s tokens/s  %s\n' "$name" "$st" "${tps:--}" "$(head -c 160 "$W/err")"
    rm -rf "${W:?}/$name"
done << 'EOF'
granularity-moe4 --d-model 256 --layers 2 --ffn moe:4 --ffn-hidden 43696
granularity-moe256 --d-model 256 --layers 2 --ffn moe:256 --ffn-hidden 688
granularity-peer --d-model 256 --layers 2 --ffn peer:262144:8:16
constant_active-d256-E128 --d-model 256 --layers 4 --ffn moe:128
constant_compute-d192-E16 --d-model 192 --layers 4 --ffn moe:16
constant_compute-d512-E64 --d-model 512 --layers 4 --ffn moe:64
demo --d-model 256 --layers 4 --ffn moe:8
EOF
exit $((fails > 0))
