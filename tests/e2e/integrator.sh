# Invariant: the integrator (masterd-child --role integrator, domain
# "integration") runs integration checks on a commit of main.  Its relay
# treats integrate.request as work (a worker started, busy in pongs until
# integrate.result, cancel passed on); the worker writes the commit's files
# into tasks/<id>/integration (0700, emptied first, no .git), runs every
# command there even after a failure, reports each start as progress, and
# answers with the results in the request's order, each with the request's
# kind, consumer, provider and entry.  A commit the repository lacks is
# refused without results; a cancel kills the running command.  No model
# session is opened.  Driven here as masterd would drive it, on fd 3.
. "$(dirname "$0")/lib.subr"

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
STATE="$T/state"
GITDIR="$STATE/tasks/1/repo.git"
mkdir -p "$STATE/tasks/1" "$T/src/api" "$T/src/web"
git init -q --bare "$GITDIR" || fail "git init"
printf 'def get(): return 1\n' >"$T/src/api/store.py"
printf 'fetch api.get\n' >"$T/src/web/page.txt"
git --git-dir="$GITDIR" --work-tree="$T/src" add -A || fail "git add"
git --git-dir="$GITDIR" --work-tree="$T/src" -c user.name=t \
    -c user.email=t@example.invalid commit -q -m one || fail "git commit"
COMMIT=$(git --git-dir="$GITDIR" rev-parse HEAD)
# Left by an earlier run: must be gone.
mkdir -p "$STATE/tasks/1/integration/old"
echo stale >"$STATE/tasks/1/integration/old/file"

python3 - "$BUILD/masterd-child" "$STATE" "$COMMIT" "$T" "$TOP" <<'PY' \
    >"$T/driver.log" 2>&1 || { cat "$T/driver.log"; fail "driver"; }
import json, os, socket, subprocess, sys, time
child, state, commit, tmp, top = sys.argv[1:6]
sys.path.insert(0, os.path.join(top, "tests", "e2e"))
from framing import PROTO_VERSION, frame, read_frame

ours, theirs = socket.socketpair()
fd = theirs.fileno()
os.set_inheritable(fd, True)

def onto_fd3():
    os.dup2(fd, 3)

log = open(os.path.join(tmp, "child.log"), "w")
p = subprocess.Popen([child, "--domain", "integration", "--task", "1",
                      "--state", state, "--role", "integrator"],
                     pass_fds=(fd, 3) if fd != 3 else (3,),
                     preexec_fn=onto_fd3, stdin=subprocess.DEVNULL,
                     stdout=log, stderr=log)
theirs.close()
ours.settimeout(60)
next_id = 0

def send(mtype, **fields):
    global next_id
    next_id += 1
    fields.update(type=mtype, id=next_id)
    ours.sendall(frame(fields))
    return next_id

def fail(why):
    print("FAIL:", why)
    p.kill()
    sys.exit(1)

def until(mtype, seen=None):
    while True:
        m = read_frame(ours)
        if m is None:
            fail("channel closed waiting for " + mtype)
        if seen is not None:
            seen.append(m)
        if m.get("type") == mtype:
            return m

send("hello", version=PROTO_VERSION, role="master", max_frame=1 << 20,
     ping_timeout=10000)
until("ready")

def check(cmd, **kw):
    return dict(command=cmd, kind=kw.pop("kind", "check"), **kw)

checks = [
    check("test -f api/store.py && test -f web/page.txt && test ! -e .git "
          "&& test ! -e old && echo both here"),
    check("echo 'web expects api.put' >&2; exit 3", kind="contract",
          consumer="web", provider="api", entry="function api.put"),
    check("printf 'after the failure'"),
]
send("integrate.request", task=1, run=7, commit=commit, checks=checks)
seen = []
res = until("integrate.result", seen)
progress = [m["text"] for m in seen if m.get("type") == "progress"
            and m.get("stage") == "integration"]
if progress != [c["command"] for c in checks]:
    fail("progress: %r" % progress)
if (res["task"], res["run"], res["commit"], res["ok"]) != (1, 7, commit, False):
    fail("result: %r" % res)
if "error" in res or not isinstance(res.get("duration_ms"), int):
    fail("result: %r" % res)
r = res["results"]
if [x["command"] for x in r] != [c["command"] for c in checks]:
    fail("order: %r" % r)
if [x["passed"] for x in r] != [True, False, True]:
    fail("passed: %r" % r)
if r[0]["output"] != "both here\n" or r[0]["kind"] != "check":
    fail("first: %r" % r[0])
if (r[1]["exit_status"], r[1]["output"], r[1]["kind"], r[1]["consumer"],
        r[1]["provider"], r[1]["entry"]) != (3, "web expects api.put\n",
        "contract", "web", "api", "function api.put"):
    fail("second: %r" % r[1])
if "consumer" in r[0] or r[2]["output"] != "after the failure":
    fail("third: %r" % r)
mode = os.stat(os.path.join(state, "tasks/1/integration")).st_mode & 0o7777
if mode != 0o700:
    fail("integration folder mode %o" % mode)
print("ok: one passing, one failing contract test and one after it, in order")

# A commit the repository does not have: no run, no results.
send("integrate.request", task=1, run=8, commit="0" * 40, checks=checks)
seen = []
res = until("integrate.result", seen)
if res["ok"] or "results" in res or res["error"]["code"] != "not_found":
    fail("bad commit: %r" % res)
if any(m.get("type") == "progress" for m in seen):
    fail("progress for a bad commit")
print("ok: an unknown commit is refused: " + res["error"]["message"])

# Cancel: the running command's group is killed; busy until the answer.
pidfile = os.path.join(tmp, "sleeper.pid")
send("integrate.request", task=1, run=9, commit=commit, checks=[
    check("echo $$ >'%s'; sleep 300" % pidfile), check("true")])
until("progress")
deadline = time.time() + 60
while not os.path.exists(pidfile) or not open(pidfile).read().strip():
    if time.time() > deadline:
        fail("the command never started")
    time.sleep(0.05)
shell = int(open(pidfile).read())
ping = send("ping")
pong = until("pong")
if pong["re"] != ping or pong.get("busy") is not True:
    fail("pong while running: %r" % pong)
send("cancel", task=1)
res = until("integrate.result")
if res["ok"] or "results" in res or res["error"]["code"] != "cancelled":
    fail("cancel: %r" % res)
try:
    os.kill(shell, 0)
    with open("/proc/%d/stat" % shell) as f:
        if f.read().split(")")[1].split()[0] != "Z":
            fail("the cancelled command lives on")
except ProcessLookupError:
    pass
ping = send("ping")
pong = until("pong")
if pong.get("busy"):
    fail("busy after the result: %r" % pong)
print("ok: a cancel kills the command and says cancelled")

if os.path.exists(os.path.join(state, "tasks/1/sessions")):
    fail("a session was opened")
send("shutdown", reason="test over")
if p.wait(timeout=60) != 0:
    fail("relay exit status %d" % p.returncode)
print("ok: no model session; the relay stops on shutdown")
PY
cat "$T/driver.log"
