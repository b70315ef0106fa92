#!/bin/sh
# test_plan_cli.sh: llm720 plan QUERY from the command line and from Lua: text and
# JSON output with the documented keys; bad input gets one line and exit 2.
. "$top_srcdir/tests/tap.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for q in optimal budget match lr table shape; do
    t_exit 0 "plan $q --help" "$LLM720" plan $q --help
done
t_exit 0 "plan --help" "$LLM720" plan --help

"$LLM720" plan optimal --flops 1e21 --experts 1,8,64 > "$tmp/opt.txt"
t_report $? "plan optimal prints a table"
t_ok "optimal: one row per expert count, the best marked" \
    sh -c "[ \$(grep -c -E '^ ?\*? +(1|8|64) ' '$tmp/opt.txt') = 3 ] && grep -q '^ \*' '$tmp/opt.txt'"
"$LLM720" plan table > "$tmp/table.txt"
t_report $? "plan table prints a grid"
t_ok "table: 8 budget rows, 3 machines" \
    sh -c "[ \$(grep -c '^1e+' '$tmp/table.txt') = 8 ] && grep -q rtx4090 '$tmp/table.txt' && grep -q 8xh100 '$tmp/table.txt'"

# JSON through Lua: same function, result as a table
cat > "$tmp/plan.lua" <<'LUA'
local function near(a, b, tol) return math.abs(a - b) <= tol * math.abs(b) end
local keys = {"experts", "active_params", "total_params", "tokens", "loss", "d_model", "flops",
              "memory_bytes"}
local o = llm720.plan{"optimal", flops = 1e21, experts = {1, 8, 64}}
for _, k in ipairs(keys) do assert(#o[k] == 3, "optimal: array " .. k) end
assert(o.experts[2] == 8 and o.best.experts == 64, "optimal: best E")
assert(near(6 * o.active_params[1] * o.tokens[1], 1e21, 1e-12), "optimal: 6 N D = F")
assert(o.d_model[1] % 64 == 0, "optimal: d_model a multiple of 64")

local b = llm720.plan{"budget", flops = 1e22, hardware = "h100-sxm", inference_tokens = 1e11}
assert(#b.scenarios == 4, "budget: four scenarios")
for _, s in ipairs(b.scenarios) do
    for _, k in ipairs(keys) do assert(b[s][k], "budget: " .. s .. "." .. k) end
end
assert(b.total_memory.memory_bytes <= 80e9 * (1 + 1e-12), "budget: total memory fits")
assert(b.model_memory.total_params * 2 <= 80e9 * (1 + 1e-12), "budget: model memory fits")
assert(b.compute.loss <= b.model_memory.loss and b.model_memory.loss <= b.total_memory.loss,
       "budget: each constraint costs loss")
assert(near(6 * b.inference.active_params * b.inference.tokens +
            2 * b.inference.active_params * 1e11, 1e22, 1e-12), "budget: inference FLOPs")

local m = llm720.plan{"match", dense_params = 1e9, dense_tokens = 2e10, experts = 8}
assert(#m.experts == 2 and m.experts[2] == 8, "match: dense and MoE")
assert(near(m.total_params[2], 1e9, 1e-12) and near(m.flops[2], m.flops[1], 1e-12),
       "match: same total params and FLOPs")
assert(m.moe.loss < m.dense.loss, "match: the MoE predicts a lower loss")

local l = llm720.plan{"lr", active_params = 1e8, experts = 8, non_embedding = true}
assert(near(l.lr, math.exp(8.39 - 0.81 * math.log(1e8) - 0.25 * math.log(8)), 1e-12), "lr rule")

local t = llm720.plan{"table"}
assert(#t.flops == 8 and #t.hardware == 3 and #t.experts == 8 and #t.experts[1] == 3, "table grid")
for i = 1, 8 do for j = 1, 3 do
    assert(t.memory_bytes[i][j] <= t.memory_limit_bytes[j] * (1 + 1e-12), "table: fits")
end end

local s = llm720.plan{"shape", d_model = 768, experts = 8}
assert(s.total_params == 615114240 and s.active_params == 169207296, "shape counts")
local s2 = llm720.plan{"shape", total_params = 615114240, experts = 8}
assert(s2.d_model == 768, "shape inverse")
print("lua ok")
LUA
"$LLM720" run "$tmp/plan.lua" > "$tmp/lua.out" 2> "$tmp/lua.err"
t_report $? "Lua: every query returns its keys and keeps its constraints $(cat "$tmp/lua.err")"

"$LLM720" plan table --json > "$tmp/t.json"
t_ok "table --json is one line" sh -c "[ \$(wc -l < '$tmp/t.json') = 1 ] && grep -q '\"experts\":\[\[' '$tmp/t.json'"

# bad input: one line, exit 2
bad() { # desc pattern args...
    desc=$1; pat=$2; shift 2
    "$LLM720" plan "$@" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    t_report $([ $rc = 2 ] && [ "$(wc -l < "$tmp/err")" = 1 ] && grep -q -- "$pat" "$tmp/err" && [ ! -s "$tmp/out" ] && echo 0 || echo 1) \
        "$desc: exit 2, one line naming '$pat' (exit $rc: $(cat "$tmp/err"))"
}
bad "negative budget" "flops" optimal --flops -1e20
bad "zero budget" "flops" budget --flops 0 --hardware h100-sxm
bad "missing budget" "flops" optimal
bad "E < 1" ">= 1" optimal --flops 1e20 --experts 0,4
bad "E < 1 in match" "experts" match --dense-params 1e9 --dense-tokens 1e10 --experts 0.5
bad "unknown hardware lists the known" "h100-sxm" budget --flops 1e20 --hardware tpu9
bad "unknown hardware in table" "rtx4090" table --hardware rtx4090,abacus
bad "negative memory" "memory-bytes" budget --flops 1e20 --memory-bytes -5
bad "unknown query" "frobnicate" frobnicate
bad "non-positive budgets in table" "positive" table --budgets 1e20,0
printf '{"law": "joint_moe", "params": {"a": 35.91, "alpha": -0.1889, "delta": -0.2285, "b": 35.98, "beta": -0.1775, "omega": 0.5529, "zeta": -0.0259, "E_start": 2.0732, "E_max": 290.4521, "c": 1.3637}}\n' > "$tmp/nogamma.json"
bad "law file missing a coefficient" "gamma" optimal --flops 1e20 --law "$tmp/nogamma.json"
bad "law file missing" "nolaw.json" optimal --flops 1e20 --law "$tmp/nolaw.json"
printf '{"law": "chinchilla", "params": {"E": 1.82, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}}\n' > "$tmp/chin.json"
t_exit 0 "a Chinchilla law file plans a dense model" "$LLM720" plan optimal --flops 1e23 --experts 1 --law "$tmp/chin.json"
"$LLM720" plan optimal --flops 1e23 --law "$tmp/chin.json" --json > "$tmp/chin.out"
t_ok "with a Chinchilla law the default is one dense model" grep -q '"experts":\[1\]' "$tmp/chin.out"

# plots (gnuplot PNG + SVG)
if command -v gnuplot >/dev/null 2>&1 || [ -n "$LLM720_GNUPLOT" ]; then
    "$LLM720" plot plan isoflop --flops 1e21 --experts 1,8,64 --out "$tmp/iso" --json > "$tmp/iso.json"
    t_report $? "plot plan isoflop runs"
    t_ok "isoflop: PNG and SVG written and listed" sh -c "[ -s '$tmp/iso.png' ] && [ -s '$tmp/iso.svg' ] && grep -q 'iso.svg' '$tmp/iso.json'"
    "$LLM720" plot plan memory --flops 1e22 --out "$tmp/mem" > /dev/null
    t_report $? "plot plan memory runs"
    t_ok "memory: PNG and SVG written, regions shaded" sh -c "[ -s '$tmp/mem.png' ] && grep -q 'E=16' '$tmp/mem.svg'"
else
    echo "# gnuplot not found: plot tests skipped"
fi
t_exit 2 "plot plan without --flops: exit 2" "$LLM720" plot plan isoflop --out "$tmp/x"
t_exit 2 "plot plan of an unknown kind: exit 2" "$LLM720" plot plan pie --flops 1e20 --out "$tmp/x"
t_ok "no partial plot left" sh -c "! ls '$tmp'/x* >/dev/null 2>&1"
t_done
