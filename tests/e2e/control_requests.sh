# Invariant: every value of a control request is checked at the door
# against one rule per limit, whichever command sets it, and a refusal
# names the field and its range and changes nothing: standing directives
# are strings (a nested one would break every later `tasks`), numbers are
# in range (priority 2^31 is not stored wrapped, task -1 is not "all
# tasks"), a budget has only its four limits and the same bounds in
# `submit` and `budget`, `spawn` keeps the domain cap of `submit` and a
# prompt cap.
. "$(dirname "$0")/lib.subr"
# Children that never speak: cheap, and enough to hold domains.
printf '#!/bin/sh\nexec sleep 60\n' >"$T/mute-child"
chmod +x "$T/mute-child"
CHILD_PATH="$T/mute-child"
write_config </dev/null
start_masterd

PYTHONPATH="$TOP/tests/e2e" python3 - "$MASTERD_SOCKET" <<'PY' || fail "control request limits"
import json, socket, struct, sys
from framing import frame, read_frame
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
s.connect(path)
n = 0
class Raw(str):
    """JSON text sent as it is (too deep for json.dumps)."""
def call(**req):
    global n
    n += 1
    req["id"] = n
    raws = {k: v for k, v in req.items() if isinstance(v, Raw)}
    body = json.dumps({k: v for k, v in req.items() if k not in raws})
    for k, v in raws.items():
        body = body[:-1] + f', "{k}": {v}}}'
    s.sendall(struct.pack(">I", len(body)) + body.encode())
    r = read_frame(s)
    assert r is not None and r["re"] == n, r
    return r
def refused(want, **req):
    r = call(**req)
    assert r["ok"] is False and r["error"]["code"] == "bad_request", (req.get("type"), r)
    msg = r["error"]["message"]
    assert want in msg, (want, msg)
    print(f"ok: {req['type']} refused: {msg}")

deep = Raw("[" + "[" * 2044 + '"x"' + "]" * 2044 + "]")
refused("directives[0]: must be", type="submit", text="t", domains=["a"], directives=deep)
refused("directives[0]: must be", type="submit", text="t", domains=["a"], directives=[{"k": 1}])
refused("directives: 65 entries, at most 64", type="submit", text="t", domains=["a"], directives=["d"] * 65)
refused("budget.tokens: -1", type="submit", text="t", domains=["a"], budget={"tokens": -1})
refused("budget.bogus", type="submit", text="t", domains=["a"], budget={"bogus": 1})
refused("budget.rounds: 1e+07", type="submit", text="t", domains=["a"], budget={"rounds": 1e7})
r = call(type="tasks")
assert r["ok"] and r["tasks"] == [], r

names = [f"d{i}" for i in range(64)]
r = call(type="submit", text="t", domains=names)
assert r["ok"], r
task = r["task"]
r = call(type="submit", text="u", domains=["a"], directives=["be brief"])
assert r["ok"], r
other = r["task"]

# The same budget rule in budget as in submit.
refused("budget.tokens: -1", type="budget", task=task, budget={"tokens": -1})
refused("budget.bogus", type="budget", task=task, budget={"bogus": 1})
refused("budget.rounds: 1e+07", type="budget", task=task, budget={"rounds": 1e7})

refused("priority: 2147483648, at most 1000", type="directive", task=task, domain="d0", text="x", priority=2**31)
refused("priority: -2147483649, at least -1000", type="directive", task=task, domain="d0", text="x", priority=-2**31 - 1)
refused("task: -1, at least 1", type="pause", task=-1)
refused("task: 0, at least 1", type="resume", task=0)
refused("task: -1, at least 1", type="cancel", task=-1)
refused("task: -5, at least 1", type="task", task=-5)
refused("version: 2147483648, at most 2147483647", type="interface", task=task, domain="d0", version=2**31)
refused("last: 0, at least 1", type="transcript", task=task, domain="d0", last=0)
refused("offset: -1, at least 0", type="backup", offset=-1)
refused("prompt: 1048576 bytes, at most 65536", type="spawn", task=other, domain="big", prompt="p" * (1 << 20))
# The cap, 1,024 domains: one more at the door of submit, and a spawn
# into a task that has them all.
refused("domains: 1025 entries, at most 1024", type="submit", text="t", domains=[f"x{i}" for i in range(1025)])
r = call(type="submit", text="big", domains=[f"x{i}" for i in range(1024)])
assert r["ok"], r
big = r["task"]
r = call(type="spawn", task=big, domain="one-more")
assert r["ok"] is False and "at most 1024" in r["error"]["message"], r
print(f"ok: spawn past the domain cap refused: {r['error']['message']}")
r = call(type="cancel", task=big)
assert r["ok"], r

r = call(type="tasks")
assert r["ok"] and len(r["tasks"]) == 3, r
assert not any(t.get("paused") for t in r["tasks"]), r
r = call(type="domains", task=task)
assert r["ok"] and len(r["domains"]) == 64, len(r["domains"])
r = call(type="domains", task=other)
assert r["ok"] and [d["name"] for d in r["domains"]] == ["a"], r
print("ok: the refusals changed nothing: 3 tasks, none paused, 64 and 1 domains")
PY
ctl tasks >/dev/null || fail "masterctl tasks fails after the refused submits"
ok "masterctl tasks still works"
