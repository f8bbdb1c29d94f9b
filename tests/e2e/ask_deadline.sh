# Invariant: the user sets, moves or lifts the deadline of an open
# question (masterctl deadline ID DURATION|now|none): the question lists
# its new deadline, each change is an event, "now" lets the asker go on
# with its assumption at once (its next request says so), and a question
# no longer open, a bad duration or a bad value is refused
# and changes nothing.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-askdl-$$"

asking_task
[ "$(json_get "r['asks'][0]['deadline']" questions 1)" = None ] ||
    fail "a deadline without question_timeout: $(ctl --json questions 1)"

deadline_in() {	# seconds from now to the question's deadline
	json_get "round(iso(r['asks'][0]['deadline']) - __import__('time').time())" questions 1
}
ctl deadline "$qid" 1h >"$T/out" || fail "deadline 1h: $(cat "$T/out")"
grep -q "question $qid: deadline .*; then calc goes on with its assumption" "$T/out" ||
    fail "deadline 1h said: $(cat "$T/out")"
left=$(deadline_in)
[ "$left" -gt 3500 ] && [ "$left" -le 3600 ] || fail "deadline 1h is $left s away"
ctl deadline "$qid" none >"$T/out" || fail "deadline none: $(cat "$T/out")"
grep -q "no deadline; calc waits for your answer" "$T/out" || fail "deadline none said: $(cat "$T/out")"
[ "$(json_get "r['asks'][0]['deadline']" questions 1)" = None ] || fail "the deadline was not lifted"
ok "a question's deadline set and lifted"

ctl deadline "$qid" soon >"$T/out" 2>&1
[ $? = 2 ] || fail "a bad duration was not a usage error"
ctl deadline 999 now >"$T/out" 2>&1 && fail "a deadline for no question"
grep -q "no question 999" "$T/out" || fail "no such question said: $(cat "$T/out")"
PYTHONPATH="$TOP/tests/e2e" python3 - "$MASTERD_SOCKET" "$qid" <<'PY' || fail "raw deadline requests"
import socket, sys
from framing import frame, read_frame
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
q = int(sys.argv[2])
for i, bad in enumerate([{"question": q, "seconds": -1},
                         {"question": q, "seconds": "1h"},
                         {"question": q},
                         {"question": 0, "seconds": 5}]):
    s.sendall(frame(dict(bad, type="deadline", id=i + 1)))
    r = read_frame(s)
    assert not r["ok"] and r["error"]["code"] == "bad_request", (bad, r)
PY
[ "$(json_get "(r['asks'][0]['state'], r['asks'][0]['deadline'])" questions 1)" = "('open', None)" ] ||
    fail "a refused request changed the question"
ok "bad durations, values and questions refused; nothing changed"

ctl deadline "$qid" now >"$T/out" || fail "deadline now: $(cat "$T/out")"
grep -q "question $qid: no answer; calc goes on with its assumption" "$T/out" ||
    fail "deadline now said: $(cat "$T/out")"
[ "$(json_get "len(r['asks'])" questions 1)" = 0 ] || fail "the question is still open"
assumed() {
	[ "$(requests_matching "'# Your domain: calc' in text and 'No answer came in time: proceed on your assumption: integers only' in text")" -ge 1 ]
}
wait_until "the assumption in calc's next request" assumed
wait_until "task 1 done" sh -c "[ \"\$($MASTERCTL --json task 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"task\"][\"state\"])')\" = done ]"
events=$(python3 - "$T/state/masterd.db" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
print([(e, json.loads(d).get("deadline") is None) for e, d in db.execute(
    "SELECT event, data FROM events WHERE event LIKE 'question.%' ORDER BY seq")])
PY
)
[ "$events" = "[('question.asked', True), ('question.deadline', False), ('question.deadline', True), ('question.deadline', False), ('question.expired', True)]" ] ||
    fail "events: $events"
ok "deadline now: the asker goes on with its assumption at once; every change an event"

ctl deadline "$qid" 1h >"$T/out" 2>&1 && fail "a deadline for an expired question"
grep -q "question $qid is expired" "$T/out" || fail "expired question said: $(cat "$T/out")"
ctl answer "$qid" "too late" >"$T/out" 2>&1 && fail "an answer to an expired question"
ok "a question no longer open takes no deadline and no answer"
