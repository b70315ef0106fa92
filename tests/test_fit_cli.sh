#!/bin/sh
# test_fit_cli.sh: llm720 fit and llm720 plot fit from the command line and
# from Lua: JSON keys, law files, run logs, and bad input (one line, exit 2,
# no output file).
. "$top_srcdir/tests/tap.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
epoch="$top_srcdir/data/runs/epoch_chinchilla_svg_extracted_data.csv"
cols='N=Model Size,C=Training FLOP,L=loss'
grid='e=0/1,a=5/10,b=5/10,alpha=0.5/1,beta=0.5/1'

"$LLM720" fit --law chinchilla --data "$epoch" --columns "$cols" --drop-highest 5 --grid "$grid" \
    --bootstrap 40 --seed 3 --holdout 10 --out "$tmp/law.json" --json > "$tmp/fit.json"
t_ok "fit --json exits 0" test -s "$tmp/fit.json"
for key in law params objective n_points starts converged ci95 rmse_train rmse_holdout seconds; do
    t_ok "--json has \"$key\"" grep -q "\"$key\":" "$tmp/fit.json"
done
t_ok "--json is one line" sh -c "[ \$(wc -l < '$tmp/fit.json') = 1 ]"
t_ok "n_points is 230 after --drop-highest 5 and --holdout 10" grep -q '"n_points":230' "$tmp/fit.json"
t_ok "--out writes a law file" grep -q '"law":[[:space:]]*"chinchilla"' "$tmp/law.json"
t_ok "law file names E, A, B, alpha, beta" sh -c "grep -q '\"alpha\":' '$tmp/law.json' && grep -q '\"E\":' '$tmp/law.json' && grep -q '\"source\":' '$tmp/law.json'"

"$LLM720" fit --law chinchilla --data "$epoch" --columns "$cols" --drop-highest 5 --grid "$grid" > "$tmp/text"
t_ok "text report names the objective" grep -q "objective 0.00101827" "$tmp/text"

# trainer run logs: a folder of .jsonl files, one point per run (its last evaluation)
mkdir -p "$tmp/logs/sub"
i=0
for n in 1e7 2e7 4e7 8e7 1.6e8 3.2e8; do
    for d in 1e9 4e9 1.6e10; do
        i=$((i + 1))
        loss=$(awk -v n=$n -v d=$d 'BEGIN { printf "%.6f", 1.8 + 400 / n^0.34 + 400 / d^0.28 }')
        f="$tmp/logs/run$i.jsonl"
        [ $i -gt 9 ] && f="$tmp/logs/sub/run$i.jsonl"
        {
            echo '{"type":"header","config":{},"n_act":'$n',"n_total":'$n',"experts":1,"expert_size":0}'
            echo '{"type":"eval","step":1,"tokens":1e6,"train_loss":9,"val_loss":9,"n_act":'$n',"n_total":'$n',"experts":1,"expert_size":0,"flops":1,"tokens_per_second":1,"wall_seconds":1}'
            echo '{"type":"eval","step":2,"tokens":'$d',"train_loss":'$loss',"val_loss":'$loss',"n_act":'$n',"n_total":'$n',"experts":1,"expert_size":0,"flops":1,"tokens_per_second":1,"wall_seconds":2}'
        } > "$f"
    done
done
"$LLM720" fit --law chinchilla --data "$tmp/logs" --grid "$grid" --json > "$tmp/logs.json"
t_ok "a folder of run logs (and a subfolder): 18 runs" grep -q '"n_points":18' "$tmp/logs.json"
t_ok "run logs drawn from a Chinchilla law fit it back (E = 1.8)" \
    sh -c "grep -o '\"E\":[0-9.]*' '$tmp/logs.json' | head -1 | awk -F: '{ exit !(\$2 > 1.79 && \$2 < 1.81) }'"
"$LLM720" fit --law chinchilla --data "$tmp/logs" --all-evals --grid "$grid" --json > "$tmp/all.json"
t_ok "--all-evals: 36 points" grep -q '"n_points":36' "$tmp/all.json"

# bad input: one line, exit 2, no output file
bad() { # desc, then the command's arguments
    desc=$1; shift
    rm -f "$tmp/out.json" "$tmp/err"
    "$LLM720" fit "$@" --out "$tmp/out.json" > /dev/null 2> "$tmp/err"
    rc=$?
    if [ $rc = 2 ] && [ "$(wc -l < "$tmp/err")" = 1 ] && [ ! -e "$tmp/out.json" ]; then
        t_report 0 "$desc: exit 2, one line, no file"
    else
        t_report 1 "$desc: exit $rc, $(wc -l < "$tmp/err") lines: $(head -c 200 "$tmp/err")"
    fi
}
printf 'N,D,L\n1e8,1e9,3\n2e8,x,3\n' > "$tmp/nonnum.csv"
printf 'N,D,L\n1e8,1e9,3\n0,1e9,3\n' > "$tmp/zero.csv"
printf 'N,D,L\n1e8,1e9,3\n2e8,1e9,nan\n' > "$tmp/nan.csv"
printf 'N,D,L\n1e8,1e9,3\n2e8,1e9,2.9\n4e8,1e9,2.8\n' > "$tmp/few.csv"
bad "unknown law" --law gpt5 --data "$epoch" --columns "$cols"
bad "missing column" --law chinchilla --data "$epoch" --columns 'N=Model Size,L=loss'
bad "unknown column" --law chinchilla --data "$epoch" --columns 'N=Params,C=Training FLOP,L=loss'
bad "non-numeric value" --law chinchilla --data "$tmp/nonnum.csv"
bad "non-positive value" --law chinchilla --data "$tmp/zero.csv"
bad "NaN loss" --law chinchilla --data "$tmp/nan.csv"
bad "fewer runs than parameters" --law chinchilla --data "$tmp/few.csv"
bad "missing file" --law chinchilla --data "$tmp/nope.csv"
bad "bad --grid" --law chinchilla --data "$epoch" --columns "$cols" --grid 'zeta=1'
"$LLM720" fit --law chinchilla --data "$tmp/nonnum.csv" 2> "$tmp/err"
t_ok "non-numeric value: names file and line" grep -q "nonnum.csv:3" "$tmp/err"
"$LLM720" fit --law chinchilla --data "$tmp/nan.csv" --skip-nan --json > "$tmp/skip.json" 2>&1
t_ok "--skip-nan: then too few points (exit 2)" sh -c "! test -s '$tmp/skip.json' || ! grep -q objective '$tmp/skip.json'"

# Lua sees the same result as a table
cat > "$tmp/fit.lua" <<LUA
local r = llm720.fit{law = "chinchilla", data = "$epoch", columns = "$cols", drop_highest = 5, grid = "$grid"}
assert(math.abs(r.objective - 0.00101827) < 1e-8, r.objective)
assert(r.params.alpha > 0.347 and r.params.alpha < 0.3474)
print("ok")
LUA
t_ok "Lua: llm720.fit returns the fit as a table" sh -c "'$LLM720' run '$tmp/fit.lua' | grep -q ok"
printf 'N,D,L\n1e8,1e9,3.0\n2e8,1e9,2.9\n4e8,2e9,2.7\n' > "$tmp/a.csv"
printf 'N,D,L\n8e8,4e9,2.5\n1.6e9,8e9,2.4\n3.2e9,1.6e10,2.3\n' > "$tmp/b.csv"
cat > "$tmp/list.lua" <<LUA
local r = llm720.fit{law = "chinchilla", data = {"$tmp/a.csv", "$tmp/b.csv"}, grid = "e=0,a=5,b=5,alpha=0.3,beta=0.3"}
assert(r.n_points == 6, r.n_points)
print("ok")
LUA
t_ok "Lua: data = {file, file} reads both" sh -c "'$LLM720' run '$tmp/list.lua' | grep -q ok"
"$LLM720" fit --law chinchilla --data "$tmp/a.csv" "$tmp/b.csv" --grid 'e=0,a=5,b=5,alpha=0.3,beta=0.3' --json > "$tmp/two.json"
t_ok "--data FILE FILE reads both" grep -q '"n_points":6' "$tmp/two.json"

# plot fit: PNG and SVG, from a fit or from a law file
if command -v gnuplot > /dev/null 2>&1; then
    t_exit 0 "plot fit from a law file" "$LLM720" plot fit --params "$tmp/law.json" --data "$epoch" \
        --columns "$cols" --drop-highest 5 --out "$tmp/pf"
    t_ok "plot fit wrote PNG and SVG" sh -c "test -s '$tmp/pf.png' && test -s '$tmp/pf.svg'"
    t_exit 2 "plot fit with a bad law file: exit 2" "$LLM720" plot fit --params "$tmp/few.csv" \
        --data "$epoch" --out "$tmp/bad"
    t_ok "no plot written on error" sh -c "! test -e '$tmp/bad.png'"
fi
t_done
