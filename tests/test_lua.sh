#!/bin/sh
# test_lua.sh: the Lua host: module functions, arg, errors as FILE:LINE: message with exit 2.
. "$top_srcdir/tests/tap.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/ok.lua" <<'LUA'
local v = llm720.version()
assert(type(v.version) == "string", "version is a string")
assert(v.data_dir, "data_dir present")
assert(arg[0]:match("ok.lua$"), "arg[0] is the script")
assert(arg[1] == "alpha" and arg[2] == "--beta" and #arg == 2, "arguments passed")
local t = llm720.json_decode('{"a":[1,2,{"b":true}],"c":1.5}')
assert(t.a[3].b == true and t.c == 1.5 and #t.a == 3, "json_decode")
local s = llm720.json_encode({x = 1, y = {1, 2, 3}})
assert(llm720.json_decode(s).y[2] == 2, "json round trip")
llm720.print_table({{name = "a", value = 1.25}, {name = "bb", value = 2e9}}, {"name", "value"})
print("done")
LUA
"$LLM720" run "$tmp/ok.lua" alpha --beta > "$tmp/out" 2> "$tmp/err"
t_report $? "a script using the module runs"
t_ok "it printed a table and finished" sh -c "grep -q '^name' '$tmp/out' && grep -q 'bb' '$tmp/out' && grep -q done '$tmp/out'"
"$LLM720" run --json "$tmp/ok.lua" alpha --beta > /dev/null 2>&1
t_report $? "--json before the script is the command's; after it, the script's"

printf 'local x = 1\nerror("boom")\n' > "$tmp/err.lua"
"$LLM720" run "$tmp/err.lua" 2> "$tmp/e"
rc=$?
t_report $([ $rc = 2 ] && echo 0 || echo 1) "a Lua error exits 2 (got $rc)"
t_ok "and prints FILE:LINE: message" grep -q "err.lua:2: boom" "$tmp/e"
t_ok "on one line" sh -c "[ \$(wc -l < '$tmp/e') = 1 ]"

printf 'local x = = 1\n' > "$tmp/syntax.lua"
t_exit 2 "a syntax error exits 2" "$LLM720" run "$tmp/syntax.lua"
"$LLM720" run "$tmp/syntax.lua" 2> "$tmp/e"
t_ok "and names the line" grep -q "syntax.lua:1:" "$tmp/e"

printf 'llm720.version({bogus = 1})\n' > "$tmp/badopt.lua"
"$LLM720" run "$tmp/badopt.lua" 2> "$tmp/e"
rc=$?
t_report $([ $rc = 2 ] && echo 0 || echo 1) "a bad option from Lua exits 2"
t_ok "with the script line and the option" sh -c "grep -q 'badopt.lua:1: llm720.version' '$tmp/e' && grep -q -- '--bogus' '$tmp/e'"

printf 'llm720.version("x")\n' > "$tmp/badarg.lua"
t_exit 2 "a non-table argument is a Lua error" "$LLM720" run "$tmp/badarg.lua"

t_exit 0 "the demo script runs" "$LLM720" run "$top_srcdir/scripts/demo.lua" --smoke --out "$tmp/demo"
t_done
