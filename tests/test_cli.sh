#!/bin/sh
# test_cli.sh: the llm720 command: help, version, bad input gets one line and exit 2.
. "$top_srcdir/tests/tap.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

t_exit 0 "llm720 --help" "$LLM720" --help
"$LLM720" --help > "$tmp/help"
for sub in plan fit sim train prepare-data plot run version; do
    t_ok "--help lists $sub" grep -q "^  $sub " "$tmp/help"
    t_exit 0 "llm720 $sub --help" "$LLM720" $sub --help
    "$LLM720" $sub --help > "$tmp/subhelp" 2>&1
    t_ok "llm720 $sub --help mentions --json" grep -q -- "--json" "$tmp/subhelp"
done
t_exit 2 "no subcommand: exit 2" "$LLM720"
t_exit 2 "unknown subcommand: exit 2" "$LLM720" frobnicate
"$LLM720" frobnicate 2> "$tmp/err"
t_ok "unknown subcommand: one line naming it" sh -c "[ \$(wc -l < '$tmp/err') = 1 ] && grep -q frobnicate '$tmp/err' && grep -q -- --help '$tmp/err'"
t_exit 2 "unknown option: exit 2" "$LLM720" version --bogus
"$LLM720" version --bogus 2> "$tmp/err"
t_ok "unknown option: one line naming it" sh -c "[ \$(wc -l < '$tmp/err') = 1 ] && grep -q -- --bogus '$tmp/err'"
t_exit 0 "version" "$LLM720" version
t_exit 0 "--version" "$LLM720" --version
"$LLM720" version --json > "$tmp/v.json"
t_ok "version --json is one JSON line with a version" sh -c "[ \$(wc -l < '$tmp/v.json') = 1 ] && grep -q '\"version\":' '$tmp/v.json'"
t_exit 2 "run without a script: exit 2" "$LLM720" run
t_exit 2 "run an unreadable script: exit 2" "$LLM720" run /nonexistent/x.lua
"$LLM720" run /nonexistent/x.lua 2> "$tmp/err"
t_ok "unreadable script named" grep -q "/nonexistent/x.lua" "$tmp/err"
t_done
