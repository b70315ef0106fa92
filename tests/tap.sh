# tap.sh: TAP helpers for shell tests (sourced).
#   t_ok DESC CMD...          passes when CMD exits 0
#   t_exit N DESC CMD...      passes when CMD exits with status N
#   t_done                    prints the plan; exits non-zero if any failed
tap_n=0
tap_failed=0
t_report() { # status desc
    tap_n=$((tap_n + 1))
    if [ "$1" = 0 ]; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; tap_failed=$((tap_failed + 1)); fi
}
t_ok() {
    desc=$1; shift
    if "$@" >/dev/null 2>&1; then t_report 0 "$desc"; else t_report 1 "$desc"; fi
}
t_exit() {
    want=$1; desc=$2; shift 2
    "$@" >/dev/null 2>&1
    got=$?
    if [ "$got" = "$want" ]; then t_report 0 "$desc"; else t_report 1 "$desc (exit $got, wanted $want)"; fi
}
t_done() {
    echo "1..$tap_n"
    [ "$tap_failed" = 0 ]
}
: "${LLM720:=./llm720}"
: "${top_srcdir:=.}"
