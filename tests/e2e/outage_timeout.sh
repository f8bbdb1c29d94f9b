# Invariant: a provider down longer than [llm] outage_timeout pauses the
# tasks waiting for it, with the reason (the provider, since when, its
# last error); nothing fails.  Once it answers, `masterctl resume` carries
# the work through.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-outage-timeout-$$"
export LLMD_API_KEY="$LLMD_TEST_KEY"

answer_script "$T/script.json" solo
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
[ "$(directive_states solo)" = "['queued']" ] \
    || fail "the directive is not waiting in the queue"
ok "outage_timeout pauses the waiting task with the reason; nothing failed"

llmd_call DELETE /_llmd/outage >/dev/null
ctl resume 1 >/dev/null || fail resume
solo_done() { [ "$(directive_states solo)" = "['done']" ]; }
wait_until "the directive done after resume" solo_done
ok "after the provider recovers, resume carries the work through"
