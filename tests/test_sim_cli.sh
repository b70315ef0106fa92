#!/bin/sh
# test_sim_cli.sh: llm720 sim and llm720 plot sim on the command line.
. "$top_srcdir/tests/tap.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
small="--experts 4096 --expert-bytes 65536 --heads 2 --topk 4 --batch 32 --steps 20 --layers 2"

t_exit 0 "sim --help" "$LLM720" sim --help
"$LLM720" sim --help > "$tmp/help"
for o in hardware layers experts expert-bytes heads topk batch steps cache-bytes routing reuse \
         policy prefetch seed transfer concurrency compute-seconds sweep; do
    t_ok "--help lists --$o" grep -q -- "--$o " "$tmp/help"
done
t_exit 0 "a small run" "$LLM720" sim $small
"$LLM720" sim $small > "$tmp/report"
t_ok "text report: hit rate, Che, tokens/s, per-layer table" \
    sh -c "grep -q 'hit rate' '$tmp/report' && grep -q Che '$tmp/report' && grep -q tokens/s '$tmp/report' && grep -q '^  layer' '$tmp/report'"
"$LLM720" sim $small --json > "$tmp/a.json"
"$LLM720" sim $small --json > "$tmp/b.json"
t_ok "--json: one line" sh -c "[ \$(wc -l < '$tmp/a.json') = 1 ]"
for k in hit_rate token_miss_probability bytes_streamed stall_seconds step_seconds \
         tokens_per_second accesses per_layer che_lru paper; do
    t_ok "--json has $k" grep -q "\"$k\":" "$tmp/a.json"
done
t_ok "same seed: byte-identical JSON" cmp "$tmp/a.json" "$tmp/b.json"
"$LLM720" sim $small --json --seed 9 > "$tmp/c.json"
t_ok "another seed: another JSON" sh -c "! cmp -s '$tmp/a.json' '$tmp/c.json'"
t_exit 0 "--output writes JSON" "$LLM720" sim $small --output "$tmp/out.json"
t_ok "the file holds the result" grep -q '"tokens_per_second"' "$tmp/out.json"
for r in uniform zipf:1.1 pk-zipf:0.8; do
    t_exit 0 "routing $r" "$LLM720" sim $small --routing $r --reuse 0.2 --decode
done
for p in lru lfu fifo random static belady; do
    t_exit 0 "policy $p" "$LLM720" sim $small --policy $p --prefetch predict:0.7:2 --transfer zerocopy
done

# trace replay, and a malformed line named
printf '# llm720 routing trace v1\n# layers 1 experts 8 per_token 2\n' > "$tmp/t.trace"
i=0; while [ $i -lt 40 ]; do echo "$i 0 $((i % 8)) $(((i * 3 + 1) % 8))"; i=$((i + 1)); done >> "$tmp/t.trace"
t_exit 0 "trace replay" "$LLM720" sim --routing "trace:$tmp/t.trace" --expert-bytes 1000 --cache-bytes 4000 --batch 4 --steps 10
"$LLM720" sim --routing "trace:$tmp/t.trace" --expert-bytes 1000 --cache-bytes 4000 --batch 4 --steps 10 --json > "$tmp/t.json"
t_ok "trace: 80 accesses" grep -q '"accesses":80' "$tmp/t.json"
sed 's/^7 0 7 6$/7 0 7 9/' "$tmp/t.trace" > "$tmp/bad.trace"
t_exit 2 "malformed trace: exit 2" "$LLM720" sim --routing "trace:$tmp/bad.trace" --expert-bytes 1000
"$LLM720" sim --routing "trace:$tmp/bad.trace" --expert-bytes 1000 2> "$tmp/err"
t_ok "malformed trace: one line naming FILE:LINE" sh -c "[ \$(wc -l < '$tmp/err') = 1 ] && grep -q 'bad.trace:10:' '$tmp/err'"

# bad input: one line, exit 2
for bad in "--experts 0" "--expert-bytes -5" "--batch 0" "--layers -1" "--cache-bytes 0" \
           "--topk 5000" "--routing zipf:x" "--routing pk-zipf:1 --experts 4000" "--policy clock" \
           "--prefetch predict:2" "--transfer dma" "--sweep cache:0" "--policy lru,lfu" \
           "--reuse 1.5" "--concurrency 0"; do
    t_exit 2 "bad input $bad: exit 2" "$LLM720" sim $small $bad
    "$LLM720" sim $small $bad 2> "$tmp/err"
    t_ok "bad input $bad: one line" sh -c "[ \$(wc -l < '$tmp/err') = 1 ]"
done
"$LLM720" sim $small --topk 5000 2> "$tmp/err"
t_ok "top-k above the expert count: says so" grep -q "above the expert count" "$tmp/err"

# a cache larger than the table: a note, all resident, exit 0
t_exit 0 "cache above the table: exit 0" "$LLM720" sim $small --cache-bytes 1e15
"$LLM720" sim $small --cache-bytes 1e15 --json > "$tmp/all.json" 2> "$tmp/err"
t_ok "cache above the table: a note on stderr" grep -q "note: .*whole expert table" "$tmp/err"
t_ok "cache above the table: hit rate 1, nothing streamed" \
    sh -c "grep -q '\"hit_rate\":1,' '$tmp/all.json' && grep -q '\"bytes_streamed\":0,' '$tmp/all.json' && grep -q '\"all_resident\":true' '$tmp/all.json'"

# sweeps, CSV, plots
t_exit 0 "cache sweep with CSV" "$LLM720" sim $small --sweep cache:0.05,0.2 --policy lru,belady --csv "$tmp/s.csv" --output "$tmp/s.json"
t_ok "CSV: header and 4 rows" sh -c "[ \$(wc -l < '$tmp/s.csv') = 5 ] && head -1 '$tmp/s.csv' | grep -q '^policy,experts,'"
t_exit 0 "experts sweep" "$LLM720" sim $small --sweep experts:1024,4096,16384 --keep-active --json
if command -v gnuplot >/dev/null 2>&1; then
    t_exit 0 "plot sim from a sweep file" "$LLM720" plot sim --input "$tmp/s.json" --output "$tmp/p"
    t_ok "plot sim wrote PNG and SVG" test -s "$tmp/p.png" -a -s "$tmp/p.svg"
    t_exit 0 "plot sim running a sweep" "$LLM720" plot sim $small --sweep experts:1024,4096 --output "$tmp/q"
    t_exit 2 "plot sim of a single run: exit 2" "$LLM720" plot sim $small --output "$tmp/r"
    t_ok "and no partial file" test ! -e "$tmp/r.png"
fi
t_exit 0 "plot sim --help" "$LLM720" plot sim --help
t_done
