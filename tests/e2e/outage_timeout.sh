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

# A reload that no longer names the provider drops its breaker: the work
# goes to the provider the configuration names now.
llmd_call POST /_llmd/outage '{"phases": [{"mode": 503, "seconds": 900}]}' >/dev/null
ctl submit "outage then reload" --domains solo >/dev/null || fail submit
task2_paused() { $MASTERCTL task 2 | grep -q 'longer than outage_timeout'; }
wait_until "task 2 paused by the outage" task2_paused
# A reload reaches the next worker: wait for the idle one to leave.
workers_gone() {	# this masterd's workers, by their state directory
	for p in $(pids_of "--state $T/state"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
		    grep -q 'masterd-worker' && return 1
	done
	return 0
}
wait_until "the idle worker gone" workers_gone
python3 "$TOP/tests/llmd/llmd.py" --script "$T/script.json" \
    --record "$T/other.jsonl" --port-file "$T/other.port" \
    --max-lifetime 300 >>"$T/other.log" 2>&1 &
wait_until "the other server to listen" test -s "$T/other.port"
sed "s#^base_url = .*#base_url = http://127.0.0.1:$(cat "$T/other.port")/v1#" \
    "$T/masterd.conf" >"$T/masterd.conf.new"
mv "$T/masterd.conf.new" "$T/masterd.conf"
kill -HUP "$MD_PID"
wait_until "the old provider's breaker dropped" log_has "no longer configured; its breaker is dropped"
[ "$(json_get "len(r['providers'])" status)" = 0 ] || fail "a breaker outlived the reload"
ctl resume 2 >/dev/null || fail "resume 2"
task2_done() { [ "$(json_get "[x['state'] for x in r['directives']]" task 2)" = "['done']" ]; }
wait_until "task 2's directive on the new provider" task2_done
ok "a reload that drops the provider drops its breaker; the work goes to the new one"

# A counter never goes back: a domain cancelled while it waits for the
# provider keeps its time waited in masterd_provider_wait_seconds_total.
PORT=$(cat "$T/other.port") llmd_call POST /_llmd/outage '{"phases": [{"mode": 503, "seconds": 900}]}' >/dev/null
ctl submit "cancelled while waiting" --domains solo >/dev/null || fail "submit 3"
task3_waits() { $MASTERCTL task 3 | grep -q 'waiting for provider llm since'; }
wait_until "task 3's domain waiting for the provider" task3_waits
waited=$(metrics_get masterd_provider_wait_seconds_total)
ctl cancel 3 >/dev/null || fail "cancel 3"
task3_released() {
	[ "$(json_get "len([c for c in r['children'] if c.get('task') == 3])" status)" = 0 ]
}
wait_until "task 3's children released" task3_released
after=$(metrics_get masterd_provider_wait_seconds_total)
python3 -c "import sys; sys.exit(not float(sys.argv[2]) >= float(sys.argv[1]) > 0)" "$waited" "$after" ||
    fail "metrics: the time waited went from $waited to $after when the waiting domain was cancelled"
ok "metrics: a domain cancelled while it waits keeps its time waited in the total ($waited s, then $after s)"
