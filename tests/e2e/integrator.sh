# Invariant: the integrator (masterd-child --role integrator, domain
# "integration") runs integration checks on a commit of main.  Its relay
# treats integrate.request as work (a worker started, busy in pongs until
# integrate.result, cancel passed on); the worker writes the commit's files
# into tasks/<id>/integration (0700, emptied first, no .git), runs every
# command there even after a failure, reports each start as progress, and
# answers with the results in the request's order, each with the request's
# kind, consumer, provider and entry.  A commit the repository lacks is
# refused without results, as is a second request while one runs; a
# cancel kills the running command; an idle worker leaves and the next
# request starts another.  No model session is opened.  The planner attributes a failing integration
# (plan.request kind "attribute"): its model is shown the files the
# failing output names, read from the commit, and an answer naming a
# domain the task lacks is sent back.  Both relays are driven here as
# masterd would drive them, on fd 3.
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

cat >"$T/relay.py" <<'PY'
"""A relay (masterd-child) started with its channel on fd 3, and the
master's end of that channel."""
import os, socket, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["TOP"], "tests", "e2e"))
from framing import PROTO_VERSION, frame, read_frame

child, state, tmp = (os.environ[k] for k in ("CHILD", "STATE", "T"))
p = None
ours = None
next_id = 0

def start(domain, role, *extra):
    global p, ours
    ours, theirs = socket.socketpair()
    fd = theirs.fileno()
    os.set_inheritable(fd, True)
    log = open(os.path.join(tmp, domain + ".log"), "w")
    p = subprocess.Popen([child, "--domain", domain, "--task", "1", "--state",
                          state, "--role", role] + list(extra),
                         pass_fds=(fd, 3) if fd != 3 else (3,),
                         preexec_fn=lambda: os.dup2(fd, 3),
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    theirs.close()
    ours.settimeout(60)
    send("hello", version=PROTO_VERSION, role="master", max_frame=1 << 20,
         ping_timeout=10000)
    until("ready")

def send(mtype, **fields):
    global next_id
    next_id += 1
    fields.update(type=mtype, id=next_id)
    ours.sendall(frame(fields))
    return next_id

def fail(why):
    print("FAIL:", why)
    if p is not None:
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

def stop():
    send("shutdown", reason="test over")
    if p.wait(timeout=60) != 0:
        fail("relay exit status %d" % p.returncode)
PY
export TOP CHILD="$BUILD/masterd-child" STATE T COMMIT

python3 - <<'PY' >"$T/driver.log" 2>&1 || { cat "$T/driver.log"; fail "integrator"; }
import os, sys, time
sys.path.insert(0, os.environ["T"])
import relay
from relay import *
commit = os.environ["COMMIT"]

# The relay's masterd-worker children (by parent, never by name alone).
def workers():
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open("/proc/%s/stat" % d).read()
            cmd = open("/proc/%s/cmdline" % d, "rb").read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == relay.p.pid and \
                b"masterd-worker" in cmd:
            found.append(int(d))
    return found

start("integration", "integrator")

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
send("integrate.request", task=2, run=8, commit=commit, checks=checks)
res = until("integrate.result")
if res["ok"] or "results" in res or res["error"]["code"] != "bad_request":
    fail("another task: %r" % res)
print("ok: another task's request is refused")

# Cancel: the running command's group is killed; busy until the answer.
# The command is found by its command line: in the sandbox it has a pid of
# its own and no path of ours to write one to.
mark = "300.%d" % os.getpid()

def sleeper():
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if f.read() == b"sleep\0" + mark.encode() + b"\0":
                    return int(pid)
        except OSError:
            pass
    return None

send("integrate.request", task=1, run=9, commit=commit, checks=[
    check("exec sleep " + mark), check("true")])
until("progress")
deadline = time.time() + 60
while sleeper() is None:
    if time.time() > deadline:
        fail("the command never started")
    time.sleep(0.05)
shell = sleeper()
ping = send("ping")
pong = until("pong")
if pong["re"] != ping or pong.get("busy") is not True:
    fail("pong while running: %r" % pong)
if len(workers()) != 1:
    fail("workers while running: %r" % workers())
send("integrate.request", task=1, run=10, commit=commit, checks=checks)
res = until("integrate.result")
if res["run"] != 10 or res["error"]["code"] != "busy" or "results" in res:
    fail("a second run at once: %r" % res)
send("cancel", task=1)
res = until("integrate.result")
if res["ok"] or "results" in res or res["error"]["code"] != "cancelled":
    fail("cancel: %r" % res)
# SIGKILL is delivered when the process next runs, and its namespace's
# init goes with it: wait for it to be gone (or a zombie), not one look.
def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[1].split()[0] in ("Z", "X")
    except OSError:
        return True
deadline = time.time() + 60
while not gone(shell):
    if time.time() > deadline:
        fail("the cancelled command lives on")
    time.sleep(0.05)
ping = send("ping")
pong = until("pong")
if pong.get("busy"):
    fail("busy after the result: %r" % pong)
print("ok: one run at a time; a cancel kills the command and says cancelled")

# Idle, the worker leaves (the relay alone waits); the next request
# starts another.
deadline = time.time() + 60
while workers():
    if time.time() > deadline:
        fail("the idle worker stays")
    time.sleep(0.05)
send("integrate.request", task=1, run=11, commit=commit, checks=checks[:1])
res = until("integrate.result")
if not res["ok"] or len(res["results"]) != 1:
    fail("after the idle worker left: %r" % res)
print("ok: an idle worker leaves, and the next request starts another")

if os.path.exists(os.path.join(state, "tasks/1/sessions")):
    fail("a session was opened")
stop()
print("ok: no model session; the relay stops on shutdown")
PY
cat "$T/driver.log"

# The planner attributes the failure; its first answer names a domain the
# task does not have and is sent back.
export LLMD_TEST_KEY="sk-llmd-integrator-$$"
python3 - "$T/script.json" <<'PY'
import json, sys
json.dump({"rules": [
  {"match": {"input_contains": "# Attribute a failing integration"},
   "reply": {"json": {"reason": "x", "directives": [
     {"domain": "db", "text": "add put"}]}}},
  {"match": {"input_contains": "is not one of the task's domains"},
   "reply": {"json": {"reason": "web calls api.put, which api lacks",
     "directives": [{"domain": "api", "text": "Provide put(key, value)."}]}}},
]}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
llm_config | write_config
export CONF="$T/masterd.conf"
python3 - <<'PY' >"$T/driver.log" 2>&1 || { cat "$T/driver.log"; fail "planner"; }
import os, sys
sys.path.insert(0, os.environ["T"])
from relay import *
start("planner", "planner", "--config", os.environ["CONF"])
send("plan.request", task=1, kind="attribute", context={
    "task": 1, "commit": os.environ["COMMIT"], "domains": ["api", "web"],
    "interfaces": [], "failing": [{
        "command": "python3 -m unittest", "exit_status": 1, "kind": "check",
        "output": 'File "web/page.txt": api.put not in api/store.py'}]})
res = until("plan.result")
if (res["kind"], res["ok"]) != ("attribute", True):
    fail("plan.result: %r" % res)
if res["plan"] != {"reason": "web calls api.put, which api lacks",
                   "directives": [{"domain": "api",
                                   "text": "Provide put(key, value)."}]}:
    fail("plan: %r" % res["plan"])
stop()
print("ok: the planner attributes the failure to api")
PY
cat "$T/driver.log"
[ "$(requests_matching "'### api/store.py' in text and 'def get(): return 1' in text and '### web/page.txt' in text")" -ge 1 ] \
    || fail "the planner was not shown the files the output names"
[ "$(requests_matching "'directives[0].domain: \\\"db\\\" is not one of the task' in text")" -eq 1 ] \
    || fail "the answer naming db was not sent back"
ok "the planner is shown the files involved, and an unknown domain is sent back"
