# Invariant: a check is model-written code and runs in the sandbox.  A
# check that the model wrote tries every escape we know of (the registry,
# the task directory, a key file, other processes' environ, writing
# outside its worktree and into the shared /tmp, the host's loopback and
# a non-loopback address, signalling masterd, ptrace, a setsid child left
# behind, forking past the process limit, a file past the size limit, a
# namespace of its own): every attempt fails, the round goes on as the
# check's result says, and masterd is unaffected.  A check may run a
# server on its private loopback; a domain with `network = yes` reaches
# the host's network and one without does not.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-sandbox-$$-9f3c"
TOKEN=$$
printf 'sk-key-file-%s\n' "$TOKEN" >"$T/provider.key"
chmod 600 "$T/provider.key"
# The script needs llmd's port and masterd's pid: it is posted once both
# are known.
echo '{"rules": []}' >"$T/empty.json"
start_llmd "$T/empty.json"
llm_config_with <<CONF
[checks]
processes = 32
file_size = 1M

[domain "escape"]
check = sh escape/check.sh

[domain "open"]
network = yes
check = sh open/check.sh

[domain "closed"]
check = sh closed/check.sh

# Never used: its key file is one the checks must not read.
[domain "spare"]
key_file = $T/provider.key
CONF
start_masterd

# The model's answers: a script of escapes for domain "escape", a probe
# of the host's network for "open" and "closed".
python3 - "$LLMD_PORT" "$T" "$TOKEN" "$LLMD_TEST_KEY" "$MD_PID" <<'PY' ||
import json, sys, urllib.request
port, T, token, key, mdpid = sys.argv[1:6]
escape = r'''#!/bin/sh
# Each attempt prints "held: WHAT" when it fails, "ESCAPED: WHAT" when it
# works, into a report in the worktree (the test reads it from outside).
R="$PWD/escape-report.txt"
: >"$R"
try() {
	what=$1; shift
	if "$@" >/dev/null 2>&1; then echo "ESCAPED: $what" >>"$R"
	else echo "held: $what" >>"$R"; fi
}
try "read the registry" cat "@T@/state/masterd.db"
try "list the other domains' worktrees" sh -c 'ls "@T@/state/tasks/1/domains" | grep -qx open'
try "read the sessions" ls "@T@/state/tasks/1/sessions"
try "read a key file" cat "@T@/provider.key"
try "find the key in an environ" sh -c 'cat /proc/[0-9]*/environ | grep -aq "@KEY@"'
try "see masterd's process" test -e "/proc/@MDPID@/environ"
try "write outside the worktree" sh -c 'echo x >"@T@/escaped" && test -e "@T@/state/tasks/1/repo.git/HEAD"'
try "write into another worktree" sh -c 'echo x >"@T@/state/tasks/1/domains/open/escaped"'
try "write into the shared /var/tmp" sh -c 'echo x >/var/tmp/masterd-escape-@TOKEN@'
echo x >/tmp/masterd-escape-@TOKEN@ 2>/dev/null
try "connect to the host's loopback" python3 -c 'import socket; socket.create_connection(("127.0.0.1", @PORT@), timeout=3)'
try "connect to a non-loopback address" python3 -c 'import socket; socket.create_connection(("192.0.2.1", 80), timeout=3)'
try "signal masterd" kill -0 @MDPID@
try "ptrace" python3 -c 'import ctypes, sys; c = ctypes.CDLL(None, use_errno=True); sys.exit(0 if c.ptrace(16, 1, 0, 0) == 0 else 1)'
try "make a namespace" python3 -c 'import os; os.unshare(os.CLONE_NEWUSER)'
setsid sleep 4242.@TOKEN@ >/dev/null 2>&1 </dev/null &
# Children that wait, then all go, so that the script can fork again.
try "fork past the process limit" python3 -c '
import os, signal, sys
kids = []
try:
    for _ in range(400):
        pid = os.fork()
        if pid == 0:
            signal.pause()
            os._exit(0)
        kids.append(pid)
except OSError:
    pass
for pid in kids:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
sys.exit(0 if len(kids) >= 400 else 1)'
try "write a file past the size limit" sh -c 'head -c 3000000 /dev/zero >big; [ "$(wc -c <big)" -ge 3000000 ]'
rm -f big
python3 - >>"$R" 2>&1 <<'SERVE'
import http.server, threading, urllib.request
s = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
threading.Thread(target=s.serve_forever, daemon=True).start()
body = urllib.request.urlopen("http://127.0.0.1:%d/escape" % s.server_port, timeout=5).read()
print("served: own loopback server answered", len(body) > 0)
SERVE
echo "done" >>"$R"
'''
probe = r'''#!/bin/sh
# Whether this domain's checks reach the host's loopback.
if python3 -c 'import socket; socket.create_connection(("127.0.0.1", @PORT@), timeout=3)' 2>/dev/null
then echo reached >"$PWD/net-report.txt"; else echo unreachable >"$PWD/net-report.txt"; fi
'''
def answer(domain, path, content):
    return json.dumps({"summary": "checks", "files": [{"path": path, "content": content}],
        "interface": {"domain": domain, "summary": domain, "provides": [], "consumes": []}})
rules = [{"match": {"system_contains": "You review one change"},
          "reply": {"json": {"complete": True, "feedback": ""}}}]
for d in ("escape", "open", "closed"):
    text = escape if d == "escape" else probe
    rules.append({"match": {"system_contains": "# Your domain: " + d},
                  "reply": {"text": answer(d, "check.sh", text)}})
def fill(text):
    for k, v in {"@T@": T, "@TOKEN@": token, "@KEY@": key, "@PORT@": port,
                 "@MDPID@": mdpid}.items():
        text = text.replace(k, v)
    return text
rules = json.loads(fill(json.dumps(rules)))
req = urllib.request.Request("http://127.0.0.1:%s/_llmd/script" % port,
    data=json.dumps({"rules": rules}).encode(), method="POST",
    headers={"Content-Type": "application/json"})
assert json.load(urllib.request.urlopen(req, timeout=10))["ok"]
PY
    fail "posting the script"

ctl submit "sandbox" --domains escape,open,closed >/dev/null || fail submit
# With no reviews the task then waits for its user: its three directives
# done is the end of the run.
directives_done() {
	[ "$(json_get "sorted(d['state'] for d in r['directives'])" task 1)" = \
	    "['done', 'done', 'done']" ]
}
wait_until "the three directives done" directives_done

W="$T/state/tasks/1/domains"
report="$W/escape/escape-report.txt"
[ -f "$report" ] || fail "no escape report"
if grep -q "^ESCAPED" "$report"; then
	cat "$report" >&2
	fail "an escape worked"
fi
for what in "read the registry" "list the other domains' worktrees" \
    "read the sessions" "read a key file" "write into another worktree" \
    "write into the shared /var/tmp" \
    "find the key in an environ" "see masterd's process" \
    "write outside the worktree" "connect to the host's loopback" \
    "connect to a non-loopback address" "signal masterd" "ptrace" \
    "make a namespace" "fork past the process limit" \
    "write a file past the size limit"; do
	grep -qx "held: $what" "$report" || {
		cat "$report" >&2
		fail "no attempt: $what"
	}
done
grep -qx "done" "$report" || fail "the escape script did not finish"
ok "every escape the check tried was held"

for f in "$T/escaped" "$W/open/escaped" "/var/tmp/masterd-escape-$TOKEN"; do
	[ ! -e "$f" ] || fail "a file was written outside the worktree: $f"
done
[ ! -e "/tmp/masterd-escape-$TOKEN" ] || {
	rm -f "/tmp/masterd-escape-$TOKEN"
	fail "a file was written into the host's /tmp"
}
! pgrep -f "sleep 4242.$TOKEN" >/dev/null || fail "the setsid child survived"
! grep -q "$LLMD_TEST_KEY\|sk-key-file-$TOKEN" "$report" ||
    fail "a key reached the check"
kill -0 "$MD_PID" || fail "masterd is gone"
ctl status >/dev/null || fail "masterd does not answer"
ok "nothing was left on the host, and masterd is unaffected"

grep -qx "served: own loopback server answered True" "$report" ||
    fail "a server on the check's own loopback: $(cat "$report")"
ok "a check's server on its private loopback answers it"

[ "$(cat "$W/open/net-report.txt")" = reached ] ||
    fail "network = yes: the host's loopback was not reached"
[ "$(cat "$W/closed/net-report.txt")" = unreachable ] ||
    fail "without network = yes the host's loopback was reached"
ok "network = yes opens the host's network to one domain, not to another"
