#!/bin/sh
# test_train_cli.sh: llm720 prepare-data and train end to end on tiny models:
# bit-identical resume, NaN stop, Ctrl-C, trace, and bad input (exit 2).
. "$top_srcdir/tests/tap.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1 LLM720_NO_PROGRESS=1

t_ok "prepare-data on README.md" "$LLM720" prepare-data --out "$tmp/data" --block 256 "$top_srcdir/README.md"
t_ok "meta.json says bytes" grep -q '"vocab":[[:space:]]*256' "$tmp/data/meta.json"
tiny="--data $tmp/data --d-model 16 --layers 2 --heads 1 --seq-len 16 --batch 4 --steps 20 --eval-every 2 --eval-tokens 64 --warmup 3 --lr 0.01"
losses() { grep '"type":"eval"' "$1" | sed 's/.*\("step":[^,]*\).*\("train_loss":[^,]*,"val_loss":[^,]*\).*/\1 \2/'; }

for ffn in dense moe:4 peer:16:2:2; do
    t_ok "$ffn: 20 steps straight" "$LLM720" train $tiny --ffn $ffn --out "$tmp/a"
    t_ok "$ffn: 10 steps, stop" "$LLM720" train $tiny --ffn $ffn --out "$tmp/b" --stop-after 10
    t_ok "$ffn: stopped at step 10" sh -c "[ \$(grep -c '\"type\":\"eval\"' '$tmp/b/log.jsonl') = 5 ]"
    t_ok "$ffn: resume, 10 more" "$LLM720" train --data "$tmp/data" --out "$tmp/b" --resume
    losses "$tmp/a/log.jsonl" > "$tmp/la"
    losses "$tmp/b/log.jsonl" > "$tmp/lb"
    t_ok "$ffn: 10 evaluations" sh -c "[ \$(wc -l < '$tmp/la') = 10 ]"
    t_ok "$ffn: straight and resumed losses identical, bit for bit" cmp "$tmp/la" "$tmp/lb"
    t_ok "$ffn: the loss falls" sh -c "awk -F'[:,]' 'NR==1{a=\$5} END{exit !(\$5 < a)}' '$tmp/la'"
    rm -rf "$tmp/a" "$tmp/b"
done
t_ok "the log header carries the full configuration" sh -c "head -1 '$tmp/la' >/dev/null; \
  \"$LLM720\" train $tiny --out '$tmp/h' --steps 2 >/dev/null && head -1 '$tmp/h/log.jsonl' | grep -q '\"type\":\"header\",\"config\":{\"vocab\":256,\"d_model\":16'"

# a routing trace of the final evaluation
t_ok "moe run with --trace" "$LLM720" train $tiny --ffn moe:4 --steps 4 --out "$tmp/t" --trace "$tmp/t/trace.txt"
t_ok "trace header" sh -c "head -2 '$tmp/t/trace.txt' | tr '\n' '|' | grep -q '^# llm720 routing trace v1|# layers 2 experts 4 per_token 1|\$'"
t_ok "trace lines: t l e" sh -c "sed -n 3,4p '$tmp/t/trace.txt' | tr '\n' '|' | grep -Eq '^0 0 [0-3]\|0 1 [0-3]\|\$'"
t_ok "trace: 64 tokens x 2 layers" sh -c "[ \$(grep -vc '^#' '$tmp/t/trace.txt') = 128 ]"
t_ok "expert statistics in the log" grep -q '"expert_stats":\[{"layer":0,"frac_used":' "$tmp/t/log.jsonl"
t_ok "peer run with --trace (PEER in the middle layer only)" "$LLM720" train $tiny --ffn peer:16:2:2 --ffn-layers middle --steps 2 --out "$tmp/tp" --trace "$tmp/tp/trace.txt"
t_ok "peer trace: one routed layer, h*k = 4 experts per token" sh -c "sed -n 2,3p '$tmp/tp/trace.txt' | tr '\n' '|' | grep -Eq '^# layers 1 experts 16 per_token 4\|0 0( [0-9]+){4}\|\$'"
t_ok "peer expert statistics: layer 1 only" sh -c "tail -1 '$tmp/tp/log.jsonl' | grep -q '\"expert_stats\":\[{\"layer\":1,'"
t_exit 2 "trace of a dense model: exit 2" "$LLM720" train $tiny --steps 1 --out "$tmp/td" --trace "$tmp/td/trace.txt"

# NaN: stop, keep the last good checkpoint and log, exit non-zero naming the step
t_exit 1 "NaN loss: exit 1" "$LLM720" train $tiny --out "$tmp/n" --debug-nan-step 7
"$LLM720" train $tiny --out "$tmp/n2" --debug-nan-step 7 2> "$tmp/err"
t_ok "NaN: one line naming step 7" sh -c "[ \$(wc -l < '$tmp/err') = 1 ] && grep -q 'at step 7' '$tmp/err'"
t_ok "NaN: the log ends at the last good evaluation (step 6)" sh -c "tail -1 '$tmp/n2/log.jsonl' | grep -q '\"step\":6,'"
t_ok "NaN: the last good checkpoint resumes" "$LLM720" train --data "$tmp/data" --out "$tmp/n2" --resume --stop-after 1

# Ctrl-C: checkpoint and exit 130
"$LLM720" train $tiny --steps 1000000 --eval-every 1 --out "$tmp/c" >/dev/null 2>"$tmp/cerr" &
pid=$!
i=0
while [ $i -lt 200 ] && ! grep -q '"type":"eval"' "$tmp/c/log.jsonl" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
kill -INT $pid
wait $pid
t_report $([ $? = 130 ]; echo $?) "SIGINT: exit 130"
t_ok "SIGINT: says where the checkpoint is" grep -q "interrupted at step .*checkpoint saved" "$tmp/cerr"
t_ok "SIGINT: the checkpoint resumes" "$LLM720" train --data "$tmp/data" --out "$tmp/c" --resume --stop-after 1

# bad input: one line, exit 2
bad() { # desc pattern args...
    desc=$1; pat=$2; shift 2
    "$LLM720" train "$@" > /dev/null 2> "$tmp/err"
    st=$?
    t_report $([ $st = 2 ] && [ "$(wc -l < "$tmp/err")" = 1 ] && grep -q -- "$pat" "$tmp/err"; echo $?) "$desc (exit $st: $(cat "$tmp/err"))"
}
bad "unknown flag" "--d-modle" $tiny --out "$tmp/x" --d-modle 8
printf '{"layers": 2, "lerning_rate": 0.1}\n' > "$tmp/bad.json"
bad "unknown config key (JSON)" "lerning_rate" $tiny --out "$tmp/x" --config "$tmp/bad.json"
printf 'return { layers = 2, d_modle = 8 }\n' > "$tmp/bad.lua"
bad "unknown config key (Lua)" "d_modle" $tiny --out "$tmp/x" --config "$tmp/bad.lua"
bad "inconsistent shapes" "head" $tiny --out "$tmp/x" --d-model 18 --heads 4
bad "bad ffn spec" "ffn" $tiny --out "$tmp/x" --ffn moe
bad "--grad-accum 0" "grad-accum" $tiny --out "$tmp/x" --grad-accum 0
bad "--grad-accum 2.5" "grad-accum" $tiny --out "$tmp/x" --grad-accum 2.5
bad "--device cuda without CUDA or a GPU" "this build has no CUDA\|no GPU was found" $tiny --out "$tmp/x" --device cuda
bad "missing data directory" "$tmp/nope" $tiny --out "$tmp/x" --data "$tmp/nope"
mkdir -p "$tmp/bd"
cp "$tmp/data/meta.json" "$tmp/data/"*val* "$tmp/bd/"
printf 'not a shard at all, not even a header' > "$tmp/bd/x_train_000000.bin"
bad "shard with a bad header" "x_train_000000.bin" $tiny --out "$tmp/x" --data "$tmp/bd"
cp "$tmp/data/bytes_train_000000.bin" "$tmp/bd/x_train_000000.bin"
printf 'xx' >> "$tmp/bd/x_train_000000.bin"
bad "shard whose size does not match its header" "does not match" $tiny --out "$tmp/x" --data "$tmp/bd"
t_ok "--grad-accum 2 runs" "$LLM720" train $tiny --out "$tmp/ga" --steps 2 --grad-accum 2
t_ok "--grad-accum: the log header records it" grep -q '"grad_accum":2' "$tmp/ga/log.jsonl"
t_ok "resume source run" "$LLM720" train $tiny --out "$tmp/r" --steps 2
bad "resume with another model shape" "d-model" --data "$tmp/data" --out "$tmp/r" --resume --d-model 32
bad "resume without a checkpoint" "checkpoint.bin" $tiny --out "$tmp/none" --resume
t_ok "no partial run directory left by bad input" sh -c "[ ! -e '$tmp/x/checkpoint.bin' ]"

# the Lua host calls the same function
cat > "$tmp/t.lua" <<LUA
local r = llm720.train{data = "$tmp/data", out = "$tmp/lua", d_model = 16, layers = 1, heads = 1,
  seq_len = 16, batch = 2, steps = 2, eval_tokens = 32}
assert(r.steps == 2 and r.val_loss > 0 and r.unigram_entropy > 2, "train result")
LUA
t_ok "llm720.train from Lua" "$LLM720" run "$tmp/t.lua"
t_done
