# Invariant: a provider that is down for minutes (529, then 503, then
# refused connections) fails no task.  Once the domains' calls have failed
# past their retries, masterd holds the provider down (one circuit breaker
# for every domain): the requests it gets during the outage are single
# probes, one at a time, with growing gaps (counted in llmd's record);
# `masterctl status` and `task` say who waits for what, until when; when
# the provider answers again the work resumes by itself and completes.
# With KILL=1 (the second half) masterd is killed -9 during the outage:
# the restarted one still holds the provider down, from the same time, and
# the work completes after the recovery all the same.
#
# OUTAGE_SECONDS (default 30) is the outage's length, PROBE_MAX (default
# 10s) the longest gap between probes.  Five minutes, as issue #15 asks:
#   OUTAGE_SECONDS=300 PROBE_MAX=60s TESTS=e2e/outage sh tests/run
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-outage-$$"
export LLMD_API_KEY="$LLMD_TEST_KEY"
OUTAGE=${OUTAGE_SECONDS:-30}
DEADLINE=$((OUTAGE + 120))

answer_script "$T/script.json" "a b c" second
LLMD_ARGS="--control-port-file $T/llmd.ctl" start_llmd "$T/script.json"
CTL_PORT=$(cat "$T/llmd.ctl")


directive_done() {	# domain text-prefix
	[ "$(json_get "[x['state'] for x in r['directives'] if x['domain']=='$1' and x['text'].startswith('$2')]" task 1)" = "['done']" ]
}

all_done() {	# text-prefix
	directive_done a "$1" && directive_done b "$1" && directive_done c "$1"
}

provider_down() {
	[ "$(json_get "len(r['providers'])" status)" -ge 1 ]
}

outage_over() {
	PORT=$CTL_PORT llmd_call GET /_llmd/outage | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["active"])'
}

run() {	# KILL
	rm -rf "$T/state" "$T/masterd.conf"
	t0=$(date +%s)
	llm_config_with <<CONF
max_attempts = 2
outage_probe_max = ${PROBE_MAX:-10s}
[task]
directive_attempts = 1
CONF
	start_masterd
	ctl watch >"$T/watch" 2>&1 &
	WATCH=$!
	ctl submit "outage" --domains a,b,c >/dev/null || fail submit
	wait_until "the first directives" all_done Build

	third=$((OUTAGE / 3))
	PORT=$CTL_PORT llmd_call POST /_llmd/outage "{\"phases\": [{\"mode\": 529, \"seconds\": $third}, {\"mode\": 503, \"seconds\": $third}, {\"mode\": \"refuse\", \"seconds\": $((OUTAGE - 2 * third))}]}" >/dev/null
	started=$(date +%s)
	for d in a b c; do
		ctl directive "$d" "second change of $d" >/dev/null || fail "directive $d"
	done
	wait_until "the provider held down" provider_down
	ctl status >"$T/status.txt"
	grep -q "^provider llm (chat http://127.0.0.1:$LLMD_PORT/v1): DOWN" "$T/status.txt" \
	    || fail "status does not show the provider down: $(cat "$T/status.txt")"
	wait_until "a domain waiting" sh -c "$MASTERCTL task 1 | grep -q 'waiting for provider llm since'"
	ok "status and task show the provider down and who waits for it, until when"
	[ "$(metrics_get masterd_providers_down)" = 1 ] || fail "metrics: no provider down"
	[ "$(metrics_get masterd_domains_waiting_provider)" -ge 1 ] || fail "metrics: none waiting"
	metrics_get "masterd_provider_down_seconds{provider=\"llm\",endpoint=\"chat http://127.0.0.1:$LLMD_PORT/v1\"}" >/dev/null ||
	    fail "metrics: the provider's down time"
	ok "metrics: the provider down, the domains waiting for it"

	if [ "$1" = 1 ]; then
		since=$(json_get "r['providers'][0]['since']" status)
		wait_until "half the outage" sh -c "[ \$(date +%s) -ge $((started + OUTAGE / 2)) ]"
		kill -KILL "$MD_PID"
		wait "$MD_PID" 2>/dev/null
		start_masterd
		[ "$(json_get "r['providers'][0]['since']" status)" = "$since" ] \
		    || fail "the restarted masterd lost the outage"
		ok "after kill -9 the provider is still held down, since the same time"
	fi

	wait_until "the outage to end" outage_over
	wait_until "every second directive done after the recovery" all_done second
	[ "$(json_get "r['task']['state']" task 1)" != failed ] || fail "the task failed"
	[ "$(json_get "len([x for x in r['directives'] if x['state'] in ('failed', 'dropped')])" task 1)" = 0 ] \
	    || fail "a directive failed: $($MASTERCTL task 1)"
	[ "$(json_get "len(r['providers'])" status)" = 0 ] || fail "the provider is still held down"
	ok "no task or directive failed; the work completed after the recovery"
	[ "$(metrics_get masterd_providers_down)" = 0 ] || fail "metrics: a provider still down"
	waited=$(metrics_get masterd_provider_wait_seconds_total)
	python3 -c "import sys; sys.exit(not float(sys.argv[1]) > 1)" "$waited" ||
	    fail "metrics: time waited $waited"
	ok "metrics: time waited for the provider, ${waited} s"

	# The requests during the outage: after the domains' own retries
	# (max_attempts = 2), single probes with gaps that grow.
	python3 - "$LLMD_RECORD" "$T/state/masterd.db" "$OUTAGE" "$t0" <<'PY' || fail "the outage's requests were not single probes with growing gaps"
import json, sqlite3, sys
rec = [m for m in map(json.loads, open(sys.argv[1]))
       if m.get("outage") and m["time"] >= float(sys.argv[4])]
db = sqlite3.connect(sys.argv[2])
down = db.execute("SELECT min(ts) FROM events WHERE event = 'provider.down'").fetchone()[0]
assert down is not None, "no provider.down event"
t = sorted(m["time"] for m in rec)
early = [x for x in t if x < down + 1.5]
probes = [x for x in t if x >= down + 1.5]
gaps = [b - a for a, b in zip(probes, probes[1:])]
print("outage of %s s: %d requests in all, %d before the breaker held "
      "(the domains' own retries), %d probes" % (sys.argv[3], len(t),
      len(early), len(probes)))
print("%8s %8s" % ("probe at", "gap"))
for i, x in enumerate(probes):
    print("%8.1f %8s" % (x - down, "%.1f" % gaps[i - 1] if i else "-"))
assert len(probes) >= 2, probes
# One at a time: never two requests within a second of each other.
assert min(gaps) >= 1.0, gaps
# Growing: each gap at least the one before (jitter-free doubling, then
# the cap), within scheduling noise.
for a, b in zip(gaps, gaps[1:]):
    assert b >= a - 1.0, gaps
PY
	ok "requests during the outage: one probe at a time, with growing gaps"
	kill "$WATCH" 2>/dev/null
	ctl stop >/dev/null
	wait_until "masterd exit" sh -c "! kill -0 $MD_PID"
}

run 0
run 1
