# Invariant: a provider down longer than [llm] outage_timeout pauses the
# tasks waiting for it, with the reason (the provider, since when, its
# last error); nothing fails.  Once it answers, `masterctl resume` carries
# the work through.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-outage-timeout-$$"
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
         {"match": {"system_contains": "# Your domain: solo"},
          "reply": {"text": answer}}]
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
LLMD_ARGS="--outage 503:900" start_llmd "$T/script.json"

llm_config_with <<CONF
max_attempts = 1
outage_timeout = 3s
outage_probe_max = 1s
CONF
start_masterd
ctl submit "outage timeout" --domains solo >/dev/null || fail submit

wait_until "the task paused by the outage" sh -c "$MASTERCTL task 1 | grep -q 'longer than outage_timeout'"
json_get "r['task']" task 1 >"$T/task.txt"
grep -q "'paused': True" "$T/task.txt" || fail "not paused: $(cat "$T/task.txt")"
grep -q "provider llm (chat http://127.0.0.1:$LLMD_PORT/v1) down since" "$T/task.txt" \
    || fail "the reason does not name the provider: $(cat "$T/task.txt")"
grep -q "HTTP 503" "$T/task.txt" || fail "the reason does not give the last error: $(cat "$T/task.txt")"
[ "$(json_get "[x['state'] for x in r['directives']]" task 1)" = "['queued']" ] \
    || fail "the directive is not waiting in the queue"
ok "outage_timeout pauses the waiting task with the reason; nothing failed"

python3 -c "import sys, urllib.request; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:%s/_llmd/outage' % sys.argv[1], method='DELETE'), timeout=10).read()" "$LLMD_PORT"
ctl resume 1 >/dev/null || fail resume
wait_until "the directive done after resume" sh -c "[ \"\$($MASTERCTL --json task 1 | python3 -c 'import json,sys; print([x[\"state\"] for x in json.load(sys.stdin)[\"directives\"]])')\" = \"['done']\" ]"
ok "after the provider recovers, resume carries the work through"
