# Invariant: tokens the provider reports for an attempt that then fails
# (an Anthropic stream that said its input tokens in message_start, then
# an overloaded error event) count: in the round's usage, the task's
# spending, and its budget.  Run once to measure, then again with a token
# budget between what the successful calls cost and what every attempt
# cost: the task stops on its budget.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-tokens-$$"
export LLMD_API_KEY="$LLMD_TEST_KEY"

python3 - "$T/script.json" <<'PY'
import json, sys
answer = json.dumps({"summary": "first", "files": [
    {"path": "first.txt", "content": "first\n"}],
    "interface": {"domain": "solo", "summary": "solo", "provides": [
        {"kind": "function", "name": "solo.first", "signature": "()"}],
        "consumes": []}})
rules = [{"match": {"system_contains": "You review one change"},
          "reply": {"json": {"complete": True, "feedback": ""}}},
         # The first request: its input is counted, then it fails.
         {"match": {"system_contains": "# Your domain: solo", "turn": 1},
          "fault": {"error_in_stream": True},
          "reply": {"text": answer}},
         {"match": {"system_contains": "# Your domain: solo"},
          "reply": {"text": answer}}]
json.dump({"rules": rules, "cache": False}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"

tokens() {	# the task's tokens, in and out, as masterd counts them
	json_get "sum(s['tokens_in'] + s['tokens_out'] for s in r['scoreboard'])" task 1
}

run() {	# [submit options]
	# The rules' turns count again from 1: the first request fails.
	llmd_call POST /_llmd/reset '{}' >/dev/null
	rm -rf "$T/state" "$T/masterd.conf"
	: >"$T/masterd.log"
	LLM_PROVIDER=anthropic llm_config | write_config
	start_masterd
	ctl submit "tokens" --domains solo "$@" >/dev/null || fail submit
}

run
solo_done() { [ "$(directive_states solo)" = "['done']" ]; }
wait_until "the directive done" solo_done
total=$(tokens)
# What llmd counted: each request's input tokens, the failed one's too.
read -r failed counted <<EOF
$(python3 - "$LLMD_RECORD" <<'PY'
import json, sys
rec = [m for m in map(json.loads, open(sys.argv[1])) if "body" in m]
failed = [m for m in rec if m.get("fault")]
assert len(failed) == 1, [m.get("fault") for m in rec]
print(failed[0]["input_tokens"], sum(m["input_tokens"] for m in rec))
PY
)
EOF
[ "$failed" -gt 0 ] || fail "the failed attempt reported no tokens"
tin=$(json_get "sum(s['tokens_in'] for s in r['scoreboard'])" task 1)
[ "$tin" = "$counted" ] || fail "input tokens: masterd counted $tin, the provider reported $counted (the failed attempt's $failed included)"
ok "the failed attempt's $failed input tokens are in the task's usage ($tin in all)"
ctl stop >/dev/null
wait_until "masterd exit" sh -c "! kill -0 $MD_PID"

# Again, from scratch, with a budget that only the failed attempt's
# tokens push the task over.
limit=$((total - failed / 2))
run --budget "tokens=$limit"
wait_until "the task stopped by its budget" sh -c "$MASTERCTL task 1 | grep -q 'budget: [0-9]* tokens used'"
json_get "r['task']" task 1 >"$T/task.txt"
grep -q "'paused': True" "$T/task.txt" || fail "the task is not paused by its budget: $(cat "$T/task.txt")"
grep -q "budget" "$T/task.txt" || fail "the pause does not name the budget: $(cat "$T/task.txt")"
ok "a budget of $limit tokens (the calls that succeeded cost $((total - failed))) stops the task"
