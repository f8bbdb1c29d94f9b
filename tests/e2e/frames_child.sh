# Invariant: a child's message too big for a frame is not lost: the worker
# sends, in its place, the failure of the work it reported on, naming the
# message, its size and max_frame.  A plan too big fails its task (it is
# not left `planned`); a round too big ends its directive.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-frames-$$"
MAX=32768
python3 - "$T/script.json" "$MAX" <<'PY'
import json, sys
big = "".join("line %d of a long brief\n" % i for i in range(2 * int(sys.argv[2]) // 20))
answer = json.dumps({"summary": "add", "files": [
    {"path": "add.py", "content": "def add(a, b):\n    return a + b\n"}],
    "interface": {"domain": "calc", "summary": "adds",
                  "provides": [{"kind": "function", "name": "calc.add",
                                "signature": "add(a: int, b: int) -> int"}],
                  "consumes": []}})
rules = [
  {"match": {"system_contains": "You review one change"},
   "reply": {"json": {"complete": True, "feedback": ""}}},
  {"match": {"system_contains": "You are the planner",
             "input_contains": "Plan this task"},
   "reply": {"json": {"summary": "one domain", "domains": [
       {"name": "calc", "prompt": big, "checks": []}]}}},
  {"match": {"system_contains": "# Your domain: calc"},
   "reply": {"text": answer}},
]
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
config() {	# with_checks
	# Room for the checks' long output in the conversation.
	llm_config | sed 's/^context_tokens = .*/context_tokens = 400000/'
	printf '[masterd]\nmax_frame = %s\n[task]\ndirective_attempts = 1\n' "$MAX"
	[ "$1" = yes ] || return 0
	# Three failing checks of 16 KiB of output each: the round that
	# reports them is over a frame.
	printf '[domain "calc"]\n'
	for i in 1 2 3; do
		printf 'check = python3 -c "print(%s * 20000); raise SystemExit(1)"\n' "'$i'"
	done
}
config no | write_config
start_masterd

task_state() {	# task state
	[ "$(json_get "r['task']['state']" task "$1")" = "$2" ]
}

# The plan is over a frame: the task fails, saying why.
ctl submit "Add two numbers" >/dev/null || fail submit
wait_until "task 1 failed" task_state 1 failed
reason=$(json_get "r['task'].get('reason', '')" task 1)
case $reason in
*"plan.result message of "*" bytes is over max_frame ($MAX bytes)"*) ;;
*) fail "task 1: reason '$reason'" ;;
esac
ok "a plan over max_frame fails its task with the limit named"

ctl stop >/dev/null
wait_until "masterd exit" sh -c "! kill -0 $MD_PID"
config yes | write_config
start_masterd

# The rounds are over a frame (their checks' output): the directive ends,
# failed, with the reason.
ctl submit "Add two numbers" --domains calc >/dev/null || fail submit
wait_until "task 2 over" sh -c "$MASTERCTL --json task 2 | grep -q '\"state\": \"failed\"'"
json_get "[(x['state'], x.get('reason', '')) for x in r['directives']]" task 2 >"$T/directives"
grep -q "'dropped', 'round message of .* bytes is over max_frame ($MAX bytes)" "$T/directives" ||
    fail "task 2: directives $(cut -c1-300 "$T/directives")"
ok "a round over max_frame ends its directive with the limit named"
