# Invariant: on the control socket, a client sending a valid request one
# byte at a time (slower than anyone should) is served in the end and does
# not hold up other clients meanwhile; 10,000 requests pipelined on one
# connection are all answered, in order, while other clients are served;
# a client that pipelines requests and never reads its answers is dropped
# once its queue is full, without masterd growing without bound; frames
# that are valid JSON but hostile (nested 100,000 deep, a NUL escaped in a
# string, a 1 MiB task text) get an error answer.  masterd survives all of
# it and changes nothing it should not.
. "$(dirname "$0")/lib.subr"
write_config </dev/null
sed -i 's/^\[masterd\]$/[masterd]\nrequest_timeout = 1s/' "$T/masterd.conf"
start_masterd
rss0=$(rss_mib "$MD_PID")

PYTHONPATH="$TOP/tests/e2e" python3 - "$MASTERD_SOCKET" "$SLOW" <<'PY' || fail "hostile control clients"
import json, socket, struct, sys, threading, time
from framing import frame, read_frame
path, slow = sys.argv[1], int(sys.argv[2])

def conn(timeout=60):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s

def timed_status(i):
    t0 = time.monotonic()
    s = conn()
    s.sendall(frame({"type": "status", "id": i}))
    r = read_frame(s)
    s.close()
    assert r and r["ok"] and r["re"] == i, r
    return time.monotonic() - t0

# 1. A valid request, one byte every 0.25 s (request_timeout is 1 s, but the
# frame keeps growing), while others are served.
slow_req = frame({"type": "status", "id": 77})
slow_s = conn()
result = {}
def dribble():
    for b in slow_req:
        slow_s.sendall(bytes([b]))
        time.sleep(0.25)
    result["r"] = read_frame(slow_s)
t = threading.Thread(target=dribble)
t.start()
worst = 0.0
i = 1000
while t.is_alive():
    worst = max(worst, timed_status(i))
    i += 1
    time.sleep(0.1)
t.join()
r = result["r"]
assert r and r["ok"] and r["re"] == 77, r
assert worst < 2.0 * slow, worst
print(f"ok: a request sent a byte every 0.25 s ({len(slow_req)} bytes) was answered; "
      f"{i - 1000} other requests meanwhile, slowest {worst * 1000:.0f} ms")

# 2. 10,000 requests pipelined on one connection, read as they come, while
# another client is served.
N = 10000
s = conn(120)
payload = b"".join(frame({"type": "status", "id": k}) for k in range(1, N + 1))
def writer():
    s.sendall(payload)
w = threading.Thread(target=writer)
w.start()
seen = 0
worst = 0.0
for k in range(1, N + 1):
    r = read_frame(s)
    assert r is not None, f"connection closed after {seen} answers"
    assert r["ok"] and r["re"] == k, (k, r)
    seen += 1
    if k % 1000 == 0:
        worst = max(worst, timed_status(50000 + k))
w.join()
s.close()
assert worst < 2.0 * slow, worst
print(f"ok: {N} pipelined requests answered in order; another client meanwhile: slowest {worst * 1000:.0f} ms")

# 3. Pipelining without ever reading: dropped once the queue is full.
s = conn(120)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
req = frame({"type": "status", "id": 1})
sent = 0
dropped = False
try:
    for k in range(200000):
        s.sendall(req)
        sent += 1
except (BrokenPipeError, ConnectionResetError, socket.timeout) as e:
    dropped = not isinstance(e, socket.timeout)
s.close()
assert timed_status(3) < 2.0 * slow
print(f"ok: a client that never reads sent {sent} requests; dropped: {dropped}; others still served")

# 4. Hostile JSON in well-formed frames.
s = conn()
deep = b"[" * 100000 + b"]" * 100000
s.sendall(struct.pack(">I", len(deep)) + deep)
r = read_frame(s)
assert r is not None and r["ok"] is False, r
nul = b'{"type": "submit", "id": 5, "text": "a\\u0000", "domains": ["a"]}'
s.sendall(struct.pack(">I", len(nul)) + nul)
r = read_frame(s)
assert r is not None and r["ok"] is False, r
nul_answer = r["error"]
s.sendall(frame({"type": "submit", "id": 6, "text": "x" * (1 << 20), "domains": ["a"]}))
r = read_frame(s)
assert r is not None and r["ok"] is False and r["re"] == 6, r
big_answer = r["error"]
s.sendall(frame({"type": "status", "id": 7}))
r = read_frame(s)
assert r and r["ok"] and r["re"] == 7, r
s.close()
print(f"ok: nested 100,000 deep, a NUL in a string ({nul_answer['code']}), "
      f"a 1 MiB task ({big_answer['code']}: {big_answer['message']}): error answers")
PY

alive "$MD_PID" || fail "masterd died"
[ "$(json_get "r['registry']['tasks']" status)" = 0 ] || fail "a hostile request created a task"
rss1=$(rss_mib "$MD_PID")
rss_within "$rss0" 100 || fail "masterd grew from $rss0 to $rss1 MiB"
ok "masterd alive, no task created, $rss1 MiB resident (from $rss0)"
done_testing
