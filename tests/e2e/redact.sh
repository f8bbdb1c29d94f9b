# Invariant: the API key a worker loaded leaves it only in the
# Authorization header.  A domain's check prints the key and a model that
# somehow knows it writes it in its summary and its interface; the key is
# then nowhere in the request bodies (which carry "[redacted]" in its
# place), the registry, the session and memory files, git or the log.
# And masterd, its relays and its workers are not dumpable: another
# process of their uid cannot read their /proc/PID/environ.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-redact-$$-0123456789abcdef"
export LLMD_API_KEY="$LLMD_TEST_KEY"

# As root, masterd runs as nobody, so that "another process of the same
# uid" means something (root may read anything).
AS=""
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null 2>&1 || { echo "skip: root without setpriv"; exit 0; }
	AS="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	$AS test -x "$MASTERD" || { echo "skip: nobody cannot run $MASTERD"; exit 0; }
	chown nobody:nogroup "$T"
	export HOME="$T"
	# masterctl (root) trusts a server run by another user only through
	# its group: nobody's own group, the socket's group too.
	export MASTERD_CONTROL_GROUP=nogroup
fi

python3 - "$T/script.json" "$LLMD_TEST_KEY" <<'PY'
import json, sys
path, key = sys.argv[1:3]
def answer(files):
    return json.dumps({
        "summary": "vault stores " + key + " for later",
        "files": files,
        "interface": {"domain": "vault", "summary": "the vault, key " + key,
                      "provides": [{"kind": "function", "name": "vault.open",
                                    "signature": "() -> ok"}],
                      "consumes": []}})
readme = {"path": "README.md", "content": "# vault\n"}
ok = {"path": "ok", "content": "ok\n"}
rules = [
  # Holds the worker in a call, for the /proc probe.
  {"match": {"input_contains": "hold the line"}, "fault": {"stall": 900},
   "reply": {"text": "x"}},
  {"match": {"system_contains": "You review one change"},
   "reply": {"json": {"complete": True, "feedback": ""}}},
  # The first answer fails the check, the second passes it.
  {"match": {"system_contains": "# Your domain: vault"},
   "reply": {"texts": [answer([readme]), answer([readme, ok])]}},
]
json.dump({"rules": rules}, open(path, "w"))
PY
start_llmd "$T/script.json"

# The check is given the key on purpose ([domain] env), as a user who
# trusts that check would.
{
	llm_config
	printf '[domain "vault"]\nenv = LLMD_TEST_KEY\n'
	printf 'check = echo "key=$LLMD_TEST_KEY"; test -f vault/ok\n'
} | write_config
$AS "$MASTERD" -f -c "$T/masterd.conf" >>"$T/masterd.log" 2>&1 &
MD_PID=$!
wait_until "masterd to answer on its socket" ctl status

ctl submit "A vault" --domains vault >/dev/null || fail submit
directive_done() {
	[ "$(json_get "[x['state'] for x in r['directives'] if x['text'].startswith('$1')]" task 1)" = "['done']" ]
}
wait_until "the first directive" directive_done Build
ok "the directive is done after a failing and a passing check"

[ "$(requests_matching "'key=[redacted]' in text")" -ge 1 ] ||
    fail "the check's output did not reach the model redacted"
[ "$(requests_matching "'vault stores [redacted] for later' in text")" -ge 1 ] ||
    fail "the model's earlier answer was not sent back redacted"
python3 - "$LLMD_RECORD" "$LLMD_TEST_KEY" <<'PY' || fail "key outside the Authorization header"
import json, sys
key, seen = sys.argv[2], 0
for line in open(sys.argv[1]):
    m = json.loads(line)
    h = dict(m.get("headers", {}))
    if h.get("authorization") == "Bearer " + key:
        seen += 1
    h.pop("authorization", None)
    m["headers"] = h
    assert key not in json.dumps(m), m.get("seq")
assert seen > 0
PY
ok "requests carry [redacted], and the key only in their Authorization header"

# A copy (with its WAL), so that the live files stay masterd's alone.
mkdir "$T/db" && cp "$T"/state/masterd.db* "$T/db/" || fail "registry copy"
python3 - "$T/db/masterd.db" >"$T/db.sql" <<'PY' || fail "registry dump"
import sqlite3, sys
for line in sqlite3.connect(sys.argv[1]).iterdump():
    print(line)
PY
grep -qF "$LLMD_TEST_KEY" "$T/db.sql" && fail "key in the registry"
grep -qF "[redacted]" "$T/db.sql" || fail "the registry has no [redacted] text"
ok "the registry holds [redacted], not the key"

ls "$T"/state/tasks/1/sessions/*.json >/dev/null 2>&1 || fail "no session file"
grep -qF "[redacted]" "$T/state/tasks/1/memory/vault.md" || fail "memory not redacted"
grep -rqF "$LLMD_TEST_KEY" "$T/state" "$T/masterd.log" && fail "key in the state dir or the log"
ok "session, memory and log files hold no key"

gitlog=$($AS git --git-dir="$T/state/tasks/1/repo.git" log -p --all) || fail "git log"
echo "$gitlog" | grep -qF "$LLMD_TEST_KEY" && fail "key in git"
echo "$gitlog" | grep -qF "vault stores [redacted]" || fail "commit message not redacted"
ok "git has the commit, redacted, and no key"

# Not dumpable: with a worker busy, none of the three lets a process of
# its uid read its environment, while a dumpable process of that uid does.
ctl directive vault "hold the line" >/dev/null || fail directive
worker=""
find_worker() {
	worker=$(pids_of "masterd-worker --domain vault" | head -1)
	[ -n "$worker" ]
}
wait_until "a busy worker" find_worker
$AS sleep 600 &
control=$!
wait_until "the control process" sh -c "tr '\0' ' ' </proc/$control/cmdline | grep -q '^sleep'"
$AS cat "/proc/$control/environ" >/dev/null || fail "the probe cannot read a dumpable process"
kill "$control"
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$MD_PID/status")
for p in "$MD_PID" "$(child_pid vault)" "$worker"; do
	$AS cat "/proc/$p/environ" >/dev/null 2>&1 && fail "environ of $p is readable"
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$p/status")" = "$uid" ] || fail "$p runs as another uid"
	[ "$(stat -c %u "/proc/$p/environ")" = 0 ] || fail "/proc/$p/environ is not root's"
done
ok "masterd, its relay and its worker are not dumpable (uid $uid)"
