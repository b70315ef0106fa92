#!/bin/sh
# test_scripts.sh: the experiment scripts (scripts/*.lua) and their library:
# argument checks, sweep folders (refusal, restart), read_runs, law values,
# and every script in --smoke form.
. "$top_srcdir/tests/tap.sh"
# the smoke models are tiny: one thread each is faster than two on a busy machine
OMP_NUM_THREADS=1
export OMP_NUM_THREADS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
S="$top_srcdir/scripts"

# ---- the library, without any subcommand
mkdir -p "$tmp/logs/a" "$tmp/logs/b"
printf '{"type":"header","d_model":32,"experts":4}\n{"step":5,"train_loss":3.5}\n{"step":10,"tokens":1280,"train_loss":3.1,"val_loss":3.2}\n{"step":20,"tokens":2560,"train_loss":2.8,"val_loss":2.9}\n' > "$tmp/logs/a/log.jsonl"
printf '{"d_model":16}\n{"step":4,"tokens":100,"val_loss":4.5}\n' > "$tmp/logs/b/log.jsonl"
printf 'not a log\n' > "$tmp/logs/b/notes.txt"
cat > "$tmp/lib.lua" <<'LUA'
package.path = arg[1] .. "/?.lua;" .. package.path
local sweep = require("lib.sweep")
local law = require("lib.law")
local function near(a, b, tol) return math.abs(a - b) <= tol * math.abs(b) end
local function errs(fn, pattern)
  local ok, msg = pcall(fn)
  assert(not ok, "expected an error matching " .. pattern)
  assert(tostring(msg):find(pattern, 1, true), "error '" .. tostring(msg) .. "' lacks '" .. pattern .. "'")
end
local ok = 0
local function pass(what) ok = ok + 1; print("ok " .. ok .. " - " .. what) end

-- read_runs: a folder searched for *.jsonl, header/evals/last/records
local runs = llm720.read_runs(arg[2] .. "/logs")
assert(#runs == 2, "two logs found")
assert(runs[1].header.experts == 4 and #runs[1].evals == 2 and runs[1].last.val_loss == 2.9, "run a")
assert(#runs[1].records == 1 and runs[1].records[1].train_loss == 3.5, "train records kept apart")
assert(runs[2].header.d_model == 16 and runs[2].last.tokens == 100, "a header without a type")
assert(#llm720.read_runs({arg[2] .. "/logs/b/log.jsonl"}) == 1, "a list of files")
errs(function() llm720.read_runs(arg[2] .. "/missing") end, "no such file or folder")
pass("read_runs reads run logs into tables")

-- arguments
local o = sweep.args("x.lua", {"--smoke", "--flops", "1e9", "--device=cpu"},
                     {flops = {kind = "number", min = 1e6}})
assert(o.smoke and o.flops == 1e9 and o.size == "smoke" and o.device == "cpu", "parsed")
assert(sweep.args("x.lua", {"--device", "cuda"}, {}).size == "cuda", "cuda size")
assert(sweep.args("x.lua", {}, {}).size == "default", "default size")
errs(function() sweep.args("x.lua", {"--flops", "5"}, {flops = {kind = "number", min = 1e6}}) end,
     "x.lua: --flops must be at least")
errs(function() sweep.args("x.lua", {"--flops", "lots"}, {flops = {kind = "number"}}) end,
     "--flops must be a number")
errs(function() sweep.args("x.lua", {"--steps", "2.5"}, {steps = {kind = "integer"}}) end,
     "--steps must be a whole number")
errs(function() sweep.args("x.lua", {"--device", "tpu"}, {}) end, "--device must be cpu or cuda")
errs(function() sweep.args("x.lua", {"--bogus"}, {}) end, "unknown argument '--bogus'")
errs(function() sweep.args("x.lua", {"--out"}, {}) end, "--out needs a value")
errs(function() sweep.args("x.lua", {}, {positional = {{name = "HARDWARE"}}}) end,
     "missing argument HARDWARE")
pass("arguments are checked and errors name them")

-- sweep folders: manifest, refusal naming the key, skipping complete runs
local dir = arg[2] .. "/sw"
local sw = sweep.open("t", {script = "t.lua", size = "smoke", device = "cpu", out = dir, argv = {}},
                      {size = {steps = 10, experts = {1, 4}}, seed = 1})
local calls = 0
local r = sw:run("one", function() calls = calls + 1; return {value = 42} end)
assert(r.value == 42 and not r.skipped and calls == 1, "ran once")
assert(llm720.exists(dir .. "/runs/one/done.json"), "done.json written")
sw = sweep.open("t", {script = "t.lua", size = "smoke", device = "cpu", out = dir, argv = {}},
                {size = {steps = 10, experts = {1, 4}}, seed = 1})
r = sw:run("one", function() calls = calls + 1; return {value = 0} end)
assert(r.value == 42 and r.skipped and calls == 1, "skipped on restart")
errs(function()
  sweep.open("t", {script = "t.lua", size = "smoke", device = "cpu", out = dir, argv = {}},
             {size = {steps = 20, experts = {1, 4}}, seed = 1})
end, "key 'config.size.steps' is 10 there and 20 here")
errs(function()
  sweep.open("t", {script = "t.lua", size = "smoke", device = "cpu", out = dir, argv = {}},
             {size = {steps = 10, experts = {1, 4, 16}}, seed = 1})
end, "key 'config.size.experts.3' is absent there and 16 here")
pass("a sweep folder refuses another configuration and skips complete runs")

-- report pieces
local md = sweep.md_table({{a = 1, b = 2.5}, {a = 1e9, b = "x"}}, {"a", {"b", "B"}})
assert(md:find("| a | B |", 1, true) and md:find("| 1e+09 | x |", 1, true), "md table")
sw:write_report("Test", "body\n")
local f = io.open(dir .. "/REPORT.md"); local rep = f:read("a"); f:close()
assert(rep:find("# Test", 1, true) and rep:find("command: `llm720 run scripts/t.lua`", 1, true)
       and rep:find("machine: ", 1, true) and rep:find("wall time", 1, true), "report header")
pass("REPORT.md states the command, the machine and the wall time")

-- the published law and parameter counting
local p = law.published("joint_moe").params
assert(near(law.ehat(8, p), 8.812369798661257, 1e-9), "Ehat(8)")
assert(near(law.predict("joint_moe", p, 1e9, 2e10, 1), 2.5776000430230206, 1e-9), "L dense")
assert(near(law.predict("joint_moe", p, 1e9, 2e10, 8), 2.5087772821025838, 1e-9), "L E=8")
local act, total = law.count(64, 2, 256, 4)
assert(act == 2 * 64 * 256 + 2 * (4 * 64 * 64 + 9 * 64 * 64 + 64 * 4), "active count")
assert(total == act + 2 * 3 * 9 * 64 * 64, "total count")
pass("published law values and parameter counts")

-- routing trace statistics
local tf = arg[2] .. "/trace.txt"
llm720.write_file(tf, "# llm720 routing trace v1\n# layers 1 experts 4 per_token 2\n" ..
  "0 0 1 2\n1 0 1 3\n2 0 1 0\n3 0 2 1\n")
local st = require("lib.trace").stats(tf)
assert(st.experts == 4 and st.per_token == 2 and st.tokens == 4 and st.used == 1, "trace header and counts")
assert(near(st.reuse, 2 / 3, 1e-12) and st.reuse_random == 0.25, "first-choice reuse")
llm720.write_file(tf, "0 0 1\n")
errs(function() require("lib.trace").stats(tf) end, "no '# layers L experts N per_token K' line")
pass("routing trace statistics")
print("1.." .. ok)
LUA
"$LLM720" run "$tmp/lib.lua" "$S" "$tmp" > "$tmp/lib.out" 2>&1
rc=$?
cat "$tmp/lib.out" | grep -E '^(ok|not ok)' | while read -r line; do echo "# lib: $line"; done
t_report $rc "the script library (read_runs, arguments, sweep folders, reports, laws)"
[ $rc = 0 ] || sed 's/^/# /' "$tmp/lib.out"

# ---- bad input to the scripts
"$LLM720" run "$S/constant_compute.lua" --smoke --flops -5 --out "$tmp/bad" 2> "$tmp/e"
rc=$?
t_report $([ $rc = 2 ] && grep -q -- "--flops must be at least" "$tmp/e" && echo 0 || echo 1) \
  "an argument out of range is a Lua error naming it (exit $rc: $(cat "$tmp/e"))"
"$LLM720" run "$S/hardware_plan.lua" nosuchgpu --smoke --out "$tmp/bad" 2> "$tmp/e"
rc=$?
t_report $([ $rc = 2 ] && grep -q "HARDWARE must be one of" "$tmp/e" && echo 0 || echo 1) \
  "an unknown hardware profile is refused by name (exit $rc)"
"$LLM720" run "$S/granularity.lua" --smoke --nope 2> "$tmp/e"
t_report $(grep -q "unknown argument '--nope'" "$tmp/e" && echo 0 || echo 1) "an unknown option is named"

# ---- every script in --smoke form
# A script whose subcommands this build lacks is skipped with the reason; any
# other failure fails the test.
smoke() { # name args...
    name=$1; shift
    start=$(date +%s)
    "$LLM720" run "$S/$name.lua" --smoke --out "$tmp/$name" "$@" > "$tmp/$name.out" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    if [ $rc != 0 ] && grep -q "not built yet" "$tmp/$name.out"; then
        tap_n=$((tap_n + 1))
        echo "ok $tap_n - $name --smoke # SKIP $(grep -o 'llm720\.[a-z_]*: not built yet' "$tmp/$name.out" | head -1)"
        return 1
    fi
    t_report $rc "$name --smoke runs ($secs s)"
    [ $rc = 0 ] || sed 's/^/# /' "$tmp/$name.out" | tail -5
    t_report $([ -s "$tmp/$name/REPORT.md" ] && echo 0 || echo 1) "$name writes REPORT.md"
    return $rc
}
smoke demo
smoke hardware_plan h100-sxm
smoke constant_compute
if smoke constant_active; then
    # restart: every run is complete, nothing is trained again
    "$LLM720" run "$S/constant_active.lua" --smoke --out "$tmp/constant_active" > "$tmp/again.out" 2>&1
    rc=$?
    t_report $([ $rc = 0 ] && ! grep -q "training" "$tmp/again.out" && grep -q "complete, skipped" "$tmp/again.out" && echo 0 || echo 1) \
      "a restarted sweep skips its complete runs"
    "$LLM720" run "$S/constant_active.lua" --smoke --steps 11 --out "$tmp/constant_active" 2> "$tmp/e"
    rc=$?
    t_report $([ $rc = 2 ] && grep -q "written by another configuration: key 'config.size.steps'" "$tmp/e" && echo 0 || echo 1) \
      "a sweep folder of another configuration is refused, naming the key"
fi
smoke granularity
if [ -f "$tmp/constant_active/data/done.json" ]; then
    # an interrupted training run resumes from its checkpoint, and ends where
    # an uninterrupted one does; a run that left no checkpoint starts again
    cat > "$tmp/resume.lua" <<'LUA'
package.path = arg[1] .. "/?.lua;" .. package.path
local sweep = require("lib.sweep")
local dir, data = arg[2] .. "/resume", arg[2] .. "/constant_active/data"
local sw = sweep.open("resume", sweep.args("resume.lua", {"--smoke", "--out", dir}, {}), {x = 1})
local cfg = {data = data, steps = 12, d_model = 16, layers = 1, batch = 2, seq_len = 16}
local full = sw:train("full", cfg)
llm720.train{data = data, out = dir .. "/runs/cut", steps = 12, stop_after = 6, d_model = 16,
             layers = 1, batch = 2, seq_len = 16, warmup = 1, eval_every = 6, eval_tokens = 1024,
             lr = 2e-3, device = "cpu"}
local cut = sw:train("cut", cfg)
assert(cut.last.step == 12 and cut.last.val_loss == full.last.val_loss,
       string.format("resumed %s at step %s, uninterrupted %s", cut.last.val_loss, cut.last.step,
                     full.last.val_loss))
llm720.mkdir(dir .. "/runs/stale")
llm720.write_file(dir .. "/runs/stale/log.jsonl", '{"type":"header"}\n')
assert(sw:train("stale", cfg).last.val_loss == full.last.val_loss, "a run without a checkpoint restarts")
LUA
    "$LLM720" run "$tmp/resume.lua" "$S" "$tmp" > "$tmp/resume.out" 2>&1
    rc=$?
    t_report $rc "an interrupted run resumes from its checkpoint and matches an uninterrupted one"
    [ $rc = 0 ] || sed 's/^/# /' "$tmp/resume.out" | tail -3
fi
t_done
