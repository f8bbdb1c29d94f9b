# Invariant: nothing too big for a frame vanishes.  An event whose data
# would pass max_frame reaches its watchers cut, with a marker; an answer
# too big for a frame is cut (task) or paged (transcript), never silence;
# the log names what was too big, its size and the limit.
. "$(dirname "$0")/lib.subr"
use_fakechild

MAX=65536
DOM=fatfatfatfatfatfatfatfatfatfat	# a long name: a longer event envelope
write_config <<CONF
[masterd]
max_frame = $MAX

[task]
directive_attempts = 1
CONF
echo '{"fat_round": true}' >"$FAKECHILD_DIR/$DOM.json"
start_masterd
ctl --json watch >"$T/watch" 2>"$T/watch.err" &
WATCH_PID=$!
wait_until "watch" sh -c "[ \$($MASTERCTL --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"clients\"])') -ge 2 ]"
ctl submit "fat rounds" --domains "$DOM" >/dev/null || fail submit

# The round fits a frame; the event that carries its error does not.
wait_until "the directive dropped" grep -q '"directive.dropped"' "$T/watch"
python3 - "$T/watch" "$MAX" <<'PY' || fail "the event was not cut to fit"
import json, sys
text = open(sys.argv[1]).read()
dec = json.JSONDecoder()
i, events = 0, []
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i == len(text):
        break
    v, i = dec.raw_decode(text, i)
    events.append(v)
drop = [e for e in events if e.get("event") == "directive.dropped"]
assert drop, "no directive.dropped event"
reason = drop[0]["data"]["reason"]
assert "bytes cut: over the frame limit]" in reason, reason[-80:]
assert reason.startswith("xxxx"), reason[:20]
assert len(json.dumps(drop[0], separators=(",", ":"))) <= int(sys.argv[2])
PY
log_has "event directive.dropped: data of .* bytes is over max_frame ($MAX bytes with the envelope)" \
    || fail "the cut event is not logged"
ok "an event over max_frame reaches the watcher cut, with a marker"

# The task's answer holds the round's error: over a frame, so cut.
ctl --json task 1 >"$T/task.json" 2>"$T/task.err" || fail "task: $(cat "$T/task.err")"
grep -q "bytes cut: over the frame limit" "$T/task.json" || fail "task: answer not cut"
log_has "answer of .* bytes is over max_frame ($MAX bytes): its longest strings cut" \
    || fail "the cut answer is not logged"
ok "a task answer over max_frame is cut to fit"

# A transcript of four frames' worth comes in pages, whole.
mkdir -p "$T/state/tasks/1/sessions"
python3 - "$T/state/tasks/1/sessions/$DOM.json" "$MAX" <<'PY'
import json, sys
big = "".join("line %d of a long answer\n" % i for i in range(4 * int(sys.argv[2]) // 25))
json.dump({"version": 2, "api": "chat", "model": "m", "system": "s",
           "usage": {}, "turns": [{"time": 1, "user": "u", "assistant": big,
                                   "usage": {}}]}, open(sys.argv[1], "w"))
PY
ctl --json transcript "$DOM" >"$T/transcript.json" 2>"$T/transcript.err" \
    || fail "transcript: $(cat "$T/transcript.err")"
python3 - "$T/transcript.json" "$T/state/tasks/1/sessions/$DOM.json" <<'PY' || fail "transcript: not whole"
import json, sys
got = json.load(open(sys.argv[1]))["transcript"]["turns"][0]["assistant"]
want = json.load(open(sys.argv[2]))["turns"][0]["assistant"]
assert got == want, (len(got), len(want))
PY
# Asked for whole (an older client), it is refused with the limit named.
python3 - "$MASTERD_SOCKET" "$DOM" "$MAX" <<'PY' || fail "an unpaged transcript is not refused clearly"
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
req = json.dumps({"type": "transcript", "id": 1, "domain": sys.argv[2]}).encode()
s.sendall(struct.pack(">I", len(req)) + req)
s.settimeout(60)
def exact(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        assert c, "closed"
        b += c
    return b
r = json.loads(exact(struct.unpack(">I", exact(4))[0]))
assert r["ok"] is False and r["error"]["code"] == "too_large", r
assert "over max_frame (%s bytes)" % sys.argv[3] in r["error"]["message"], r
assert "pages" in r["error"]["message"], r
PY
ok "a transcript over max_frame is paged; whole, it is refused naming the limit"

kill "$WATCH_PID" 2>/dev/null
