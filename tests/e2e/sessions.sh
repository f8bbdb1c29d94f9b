# Invariant: each domain's conversation with its model survives a child
# restart on all three APIs (Chat Completions history, Responses
# previous_response_id, Anthropic messages); streamed answers reach
# `watch` as progress; a provider's rate limit beyond the retry policy
# holds the provider (and the domain's work) until the time it gave, then
# the work goes on; `pause`
# cancels the call in flight at once and `resume` redoes it.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-sessions-$$"
export LLMD_API_KEY="$LLMD_TEST_KEY"

python3 - "$T/script.json" <<'PY'
import json, sys
def answer(d, name):
    return json.dumps({"summary": name, "files": [
        {"path": name + ".txt", "content": name + "\n"}],
        "interface": {"domain": d, "summary": d, "provides": [
            {"kind": "function", "name": d + "." + name, "signature": "()"}],
            "consumes": []}})
rules = [
  {"match": {"system_contains": "You review one change"},
   "reply": {"json": {"complete": True, "feedback": ""}}},
  {"match": {"system_contains": "# Your domain: busy", "turn": 1},
   "fault": {"status": 429, "retry_after": 4},
   "reply": {"text": answer("busy", "never")}},
  {"match": {"system_contains": "# Your domain: stuck", "turn": 1},
   "fault": {"stall": 120},
   "reply": {"text": answer("stuck", "never")}},
]
for d in ("solo", "busy", "stuck"):
    rules.append({"match": {"system_contains": "# Your domain: " + d,
                            "input_contains": "second"},
                  "reply": {"text": answer(d, "second")}})
    rules.append({"match": {"system_contains": "# Your domain: " + d},
                  "reply": {"text": answer(d, "first")}})
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"

directive_done() {	# domain text-prefix
	[ "$(json_get "[x['state'] for x in r['directives'] if x['domain']=='$1' and x['text'].startswith('$2')]" task 1)" = "['done']" ]
}

for api in chat openai-responses anthropic; do
	rm -rf "$T/state" "$T/masterd.conf"
	: >"$T/masterd.log"
	LLM_PROVIDER=$api llm_config | write_config
	start_masterd
	ctl submit "sessions on $api" --domains solo >/dev/null || fail submit
	wait_until "$api: first directive" directive_done solo Build
	kill -KILL "$(child_pid solo)"
	wait_until "$api: solo restarted" state_is solo running
	ctl directive solo "second change" >/dev/null
	wait_until "$api: second directive" directive_done solo second
	case $api in
	chat|anthropic)
		want="'second change' in text and '# Your directive (#1' in text" ;;
	openai-responses)
		want="'second change' in text and str(m['body'].get('previous_response_id', '')).startswith('resp_')" ;;
	esac
	[ "$(requests_matching "m['api'] == '${api%%-*}'.replace('openai', 'responses') and $want")" -ge 1 ] \
	    || fail "$api: the restarted child did not continue the conversation"
	ctl stop >/dev/null
	wait_until "masterd exit" sh -c "! kill -0 $MD_PID"
	ok "$api: the conversation survives a child restart"
done

# Streaming, rate limits and pause on Chat Completions.
rm -rf "$T/state" "$T/masterd.conf"
LLM_MAX_RETRY_WAIT=1s llm_config | write_config
start_masterd
ctl --verbose watch >"$T/watch" 2>&1 &
wait_until "watch" sh -c "[ \$($MASTERCTL --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"clients\"])') -ge 2 ]"
ctl submit "limits" --domains busy,stuck >/dev/null || fail submit

wait_until "busy held" log_has "provider llm (chat http://127.0.0.1:$LLMD_PORT/v1) is down: HTTP 429"
held=$(json_get "int(iso(r['providers'][0]['next_try'])) if r['providers'] else 0" status)
[ "$held" -ge "$(date +%s)" ] || fail "status does not show the provider held until its time"
wait_until "a domain.held event" grep -q "domain.held" "$T/watch"
wait_until "busy done after the hold" directive_done busy Build
python3 - "$LLMD_RECORD" <<'PY' || fail "busy: the retry did not wait for the provider's time"
import json, sys
t = [m["time"] for m in map(json.loads, open(sys.argv[1]))
     if "body" in m and "# Your domain: busy" in json.dumps(m["body"])
     and "You review" not in json.dumps(m["body"])]
assert len(t) == 2, t
assert t[1] - t[0] >= 3.0, t
PY
grep -q '"stage":"model","text":"[0-9]* bytes' "$T/watch" || \
    grep -q 'progress.*bytes' "$T/watch" || fail "no streamed progress on watch"
ok "a long rate limit holds the domain until the provider's time; progress streams"

# stuck's first request stalls: pause cancels it at once, resume redoes it.
wait_until "stuck's request to stall" grep -q '"stall"' "$LLMD_RECORD"
before=$(requests_matching "'# Your domain: stuck' in text")
ctl pause 1 >/dev/null || fail pause
wait_until "the stalled call cancelled" log_has "masterd-worker/stuck.*failed: cancelled by masterd"
[ "$(json_get "[x['state'] for x in r['directives'] if x['domain']=='stuck'][0]" task 1)" = queued ] \
    || fail "the cancelled directive is not queued again"
[ "$(requests_matching "'# Your domain: stuck' in text")" = "$before" ] || fail "a request went out while paused"
ctl resume 1 >/dev/null || fail resume
wait_until "stuck done after resume" directive_done stuck Build
ok "pause cancels the call in flight; nothing goes out until resume; then it is redone"
