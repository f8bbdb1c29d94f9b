# Invariant: garbage, an oversized length, a half frame left hanging and 200
# clients at once on the control socket never stop masterd from answering
# well-formed requests; bad requests get an error answer and change nothing.
. "$(dirname "$0")/lib.subr"
write_config </dev/null
sed -i 's/^\[masterd\]$/[masterd]\nmax_clients_per_uid = 400\nrequest_timeout = 1s/' "$T/masterd.conf"
start_masterd

PYTHONPATH="$TOP/tests/e2e" python3 - "$MASTERD_SOCKET" <<'PY' || fail "hostile client checks"
import json, socket, struct, sys, threading, time
from framing import frame, read_frame
path = sys.argv[1]

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    return s

def status_ok():
    s = conn()
    s.sendall(frame({"type": "status", "id": 1}))
    r = read_frame(s)
    s.close()
    assert r and r["ok"] is True and r["re"] == 1, r

# Invalid JSON in a well-framed request: error answer, connection usable.
s = conn()
s.sendall(struct.pack(">I", 9) + b"not json!")
r = read_frame(s)
assert r["ok"] is False and r["error"]["code"] == "bad_frame", r
s.sendall(frame({"type": "status", "id": 2}))
r = read_frame(s)
assert r["ok"] is True and r["re"] == 2, r
# Unknown type, missing id, wrong field type: error answers.
s.sendall(frame({"type": "launch-missiles", "id": 3}))
r = read_frame(s); assert r["error"]["code"] == "unknown_type" and r["re"] == 3, r
s.sendall(frame({"type": "a" * 63 + "\u00e9", "id": 6}))
r = read_frame(s); assert r["error"]["code"] == "unknown_type" and r["re"] == 6, r
s.sendall(frame({"type": "status"}))
r = read_frame(s); assert r["error"]["code"] == "bad_request", r
s.sendall(frame({"type": "submit", "id": 4, "text": 12}))
r = read_frame(s); assert r["error"]["code"] == "bad_request" and "text" in r["error"]["message"], r
s.sendall(frame({"type": "task.assign", "id": 5, "task": 1, "text": "x", "domain": "y"}))
r = read_frame(s); assert r["ok"] is False, r
s.close()
print("ok: malformed requests answered with errors")

# Pure garbage: the length is absurd, so masterd answers and closes.
s = conn()
s.sendall(b"\xff\xfe\xfd\xfcGARBAGE GARBAGE")
r = read_frame(s)
assert r["ok"] is False and "too large" in r["error"]["message"], r
assert read_frame(s) is None
s.close()
# A zero length is refused too.
s = conn()
s.sendall(b"\x00\x00\x00\x00")
r = read_frame(s); assert r["ok"] is False and "zero" in r["error"]["message"], r
s.close()
print("ok: garbage and oversized lengths refused, connection closed")

# Half a frame, then silence: the others are served meanwhile.
half = conn()
half.sendall(struct.pack(">I", 100) + b'{"type": "sta')
status_ok()
print("ok: a half frame does not block other clients")

# A client that never reads while watching is not a problem for others.
deaf = conn()
deaf.sendall(frame({"type": "watch", "id": 1}))

# 200 clients at once.
errors = []
def worker(i):
    try:
        s = conn()
        s.sendall(frame({"type": "status", "id": i}))
        r = read_frame(s)
        assert r["ok"] and r["re"] == i
        s.close()
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=worker, args=(i,)) for i in range(1, 201)]
for t in threads: t.start()
for t in threads: t.join()
assert not errors, errors[:5]
print("ok: 200 concurrent clients answered")
status_ok()

# The half-sent request is dropped after its deadline, with a reason.
half.settimeout(60)
r = read_frame(half)
assert r["ok"] is False and "incomplete request stalled" in r["error"]["message"], r
assert read_frame(half) is None
print("ok: half-sent request dropped after its deadline")
PY

# Clients are capped per uid: the cap is in the config (64 by default).
kill -0 "$MD_PID" || fail "masterd died"
[ "$(json_get "r['registry']['tasks']" status)" = 0 ] || fail "bad requests created tasks"
log_has "incomplete request timed out" || fail "drop not logged"

# The per-user connection cap, lowered by a reload.  Root is not held to
# it (it could stop masterd anyway, and must never be locked out): as
# root, the fourth connection is served.
sed -i 's/^max_clients_per_uid = 400$/max_clients_per_uid = 3/' "$T/masterd.conf"
kill -HUP "$MD_PID"
wait_until "reload" log_has "configuration reloaded"
python3 - "$MASTERD_SOCKET" "$(id -u)" <<'PY' || fail "connection cap"
import json, socket, struct, sys
held = []
for i in range(3):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    held.append(s)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
body = json.dumps({"type": "status", "id": 7}).encode()
s.sendall(struct.pack(">I", len(body)) + body)
hdr = s.recv(4)
body = s.recv(struct.unpack(">I", hdr)[0])
r = json.loads(body)
if sys.argv[2] == "0":
    assert r["ok"] is True and r["re"] == 7, r
    print("ok: root's fourth connection is served over a cap of 3")
else:
    assert r["ok"] is False and r["error"]["code"] == "refused", r
    assert "too many connections" in r["error"]["message"], r
    print("ok: the fourth connection of a user is refused:", r["error"]["message"])
PY
