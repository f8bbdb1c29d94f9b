# Invariant: no check runs unconfined by surprise.  With `sandbox = strict`
# (the default) masterd asks masterd-worker --sandbox-probe first: where
# strict cannot be built (MASTERD_SANDBOX_LACKS simulates it) `masterd -n`
# says what is missing and how to fix it (exit 1) and masterd refuses to
# start (exit 78, the same lines in its log); a reload that cannot be
# strict is refused.  `sandbox = off` is said at start and in status, and
# then only the configuration's own check commands run, never a model's.
# A check whose sandbox cannot be built does not run: its directive fails
# (error sandbox) and the model is not told of a failing check.
. "$(dirname "$0")/lib.subr"

# ---------------------------------------------------------- strict, real probe
write_config </dev/null
"$MASTERD" -n -c "$T/masterd.conf" >"$T/out" 2>&1 || fail "strict refused here: $(cat "$T/out")"
grep -q "^sandbox: strict (.*)$" "$T/out" || fail "-n verdict: $(cat "$T/out")"
ok "-n says strict is available, and what it is made of"

# missing_lines FILE: the lines naming the user namespaces and Landlock,
# each with its fix.
missing_lines() {
	grep -i "user" "$1" | grep -q "fix: ." || return 1
	grep -i "landlock" "$1" | grep -q "fix: ." || return 1
}

MASTERD_SANDBOX_LACKS=user,landlock "$MASTERD" -n -c "$T/masterd.conf" \
    >"$T/out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "-n without user namespaces nor Landlock: exit $rc: $(cat "$T/out")"
grep -q "^sandbox: strict is NOT available here:$" "$T/out" || fail "-n: $(cat "$T/out")"
grep "^  " "$T/out" >"$T/missing"
missing_lines "$T/missing" || fail "-n missing lines: $(cat "$T/out")"
ok "-n says what strict lacks here and how to fix it (exit 1)"

MASTERD_SANDBOX_LACKS=user,landlock "$MASTERD" -f -c "$T/masterd.conf" \
    >>"$T/masterd.log" 2>&1
rc=$?
[ $rc -eq 78 ] || fail "masterd started without its sandbox: exit $rc"
[ -e "$MASTERD_SOCKET" ] && fail "socket created without a sandbox"
[ -e "$T/state/masterd.db" ] && fail "state opened without a sandbox"
grep "sandbox: strict is not available: " "$T/masterd.log" >"$T/missing"
missing_lines "$T/missing" || fail "start-up lines: $(cat "$T/masterd.log")"
log_has "not starting" || fail "no refusal in the log"
ok "masterd refuses to start without its sandbox (exit 78), saying why"
: >"$T/masterd.log"

# ---------------------------------------------------------- off
# Domain p's model proposes a check (accepted by policy); domain q has one
# in the configuration.  Off runs q's, never p's.  (Domains s and t are
# for the last part.)
export LLMD_TEST_KEY="sk-llmd-sandbox-$$"
python3 - "$T/script.json" "$T" <<'PY'
import json, sys
t = sys.argv[2]
def answer(d, check):
    return json.dumps({"summary": d, "files": [{"path": "x", "content": d + "\n"}],
        "interface": {"domain": d, "summary": d, "provides": [], "consumes": []},
        "checks": [check]})
json.dump({"rules": [
    {"match": {"system_contains": "You review one change"},
     "reply": {"json": {"complete": True, "feedback": ""}}},
    {"match": {"system_contains": "# Your domain: p"},
     "reply": {"text": answer("p", "touch %s/proposed-ran" % t)}},
    {"match": {"system_contains": "# Your domain: q"},
     "reply": {"text": answer("q", "touch %s/q-proposed-ran" % t)}},
    {"match": {"system_contains": "# Your domain: s"},
     "reply": {"text": answer("s", "true")}},
    {"match": {"system_contains": "# Your domain: t"},
     "reply": {"text": answer("t", "true")}}]},
    open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
{
	llm_config
	printf '[task]\naccept_proposed_checks = yes\n'
	printf '[domain "p"]\n[domain "q"]\ncheck = touch %s/configured-ran\n' "$T"
	printf '[masterd]\nsandbox = off\n'
} | write_config
line=$(grep -n "^sandbox = off" "$T/masterd.conf" | cut -d: -f1)
"$MASTERD" -n -c "$T/masterd.conf" >"$T/out" 2>&1 || fail "off refused: $(cat "$T/out")"
grep -qx "sandbox: off — checks run unconfined (said in $T/masterd.conf:$line)" \
    "$T/out" || fail "-n with off: $(cat "$T/out")"
ok "-n says off, and where it was said"

start_masterd
log_has "sandbox = off: check commands and the code they run are not confined" ||
    fail "no warning at start"
ctl status | grep -qx "sandbox: OFF, checks run unconfined (said in $T/masterd.conf:$line)" ||
    fail "status: $(ctl status)"
[ "$(json_get "r['sandbox']['mode'], r['sandbox']['available']" status)" = "off None" ] ||
    fail "status --json: $(json_get "r['sandbox']" status)"
ok "off is a warning at start and shown by status"

ctl submit "sandbox off" --domains p,q >/dev/null || fail submit
both_done() {
	[ "$(json_get "sorted(d['state'] for d in r['directives'])" task 1)" = "['done', 'done']" ]
}
wait_until "both directives done" both_done
[ -e "$T/configured-ran" ] || fail "the configured check did not run"
[ -e "$T/proposed-ran" ] && fail "a model's check ran unconfined"
[ -e "$T/q-proposed-ran" ] && fail "q's proposed check ran"
log_has "sandbox = off: not running \"touch $T/proposed-ran\"" ||
    fail "the dropped check is not named in the log"
ok "off runs the configuration's checks, never a model's"
kill -TERM "$MD_PID"
wait_until "masterd to stop" sh -c "! kill -0 $MD_PID"
MD_PID=""

# ---------------------------------------------------------- reload
# A masterd beside a fake worker whose verdict a file decides.
mkdir -p "$T/bin"
cp "$MASTERD" "$T/bin/masterd"
cat >"$T/bin/masterd-worker" <<SH
#!/bin/sh
[ "\$1" = --sandbox-probe ] || exit 9
if [ -e "$T/lacking" ]; then
	echo '{"strict": false, "summary": "", "missing": [{"name": "seccomp", "error": "not built in", "fix": "CONFIG_SECCOMP_FILTER=y"}], "notes": []}'
	exit 1
fi
echo '{"strict": true, "summary": "fake strict", "missing": [], "notes": []}'
SH
chmod +x "$T/bin/masterd-worker"
# No masterd-child beside this masterd: a child it can find (masterd
# does not start without one).
CHILD_PATH="$TOP/tests/e2e/fakechild.py" write_config </dev/null
: >"$T/masterd.log"
MASTERD="$T/bin/masterd"
start_masterd
ctl status | grep -qx "sandbox: strict (fake strict)" || fail "status: $(ctl status)"
touch "$T/lacking"
kill -HUP "$MD_PID"
wait_until "the reload refused" log_has "reload refused: keeping the running"
log_has "reload refused: sandbox: strict is not available: seccomp: not built in; fix: CONFIG_SECCOMP_FILTER=y" ||
    fail "reload refusal lines: $(cat "$T/masterd.log")"
ctl status | grep -qx "sandbox: strict (fake strict)" || fail "status after a refused reload: $(ctl status)"
printf '[masterd]\nsandbox = off\n' >>"$T/masterd.conf"
kill -HUP "$MD_PID"
wait_until "the reload to off" log_has "reload: sandbox = off"
wait_until "status to say off" sh -c "$MASTERCTL status | grep -q 'sandbox: OFF'"
ok "a reload that cannot be strict is refused; one to off is said"
kill -TERM "$MD_PID"
wait_until "masterd to stop" sh -c "! kill -0 $MD_PID"
MD_PID=""

# ---------------------------------------------------------- a check's sandbox
# The probe said yes (the fake worker), but the real builder, in the
# domain's worker, cannot: the command does not run, the directive fails
# with error sandbox, the model never hears of it as a failing check, and
# the task pauses (another try would only cost another model round) with
# the directive queued for the resume.
rm -f "$T/lacking"
rm -rf "$T/state"
{
	llm_config
	printf '[masterd]\nchild_path = %s/masterd-child\n' "$BUILD"
	printf '[task]\ndirective_attempts = 1\n'
	printf 'integration_check = touch %s/integration-ran\n' "$T"
	printf '[domain "s"]\ncheck = touch %s/s-ran\n' "$T"
	printf '[domain "t"]\n'
} | write_config
: >"$T/masterd.log"
MASTERD_SANDBOX_LACKS=user start_masterd
ctl submit "no sandbox" --domains s >/dev/null || fail submit
s_paused() {
	[ "$(json_get "(r['task']['paused'], [d['state'] for d in r['directives']])" task 1)" = "(True, ['queued'])" ]
}
wait_until "the task paused, its directive queued" s_paused
log_has "task 1 paused: the check sandbox could not be built" ||
    fail "no pause with the reason"
[ -e "$T/s-ran" ] && fail "the check ran without its sandbox"
[ "$(json_get "[(x['ok'], x['stage'], 'user namespace' in (x['error'] or '')) for x in r['rounds']]" task 1)" = \
    "[(False, 'checks', True)]" ] || fail "rounds: $(json_get "r['rounds']" task 1)"
log_has "directive 1 failed: .*sandbox: .*user namespace" || fail "worker log"
[ "$(requests_matching '"# Your domain: s" in text')" = 1 ] ||
    fail "the model was asked again: $(requests_matching '"# Your domain: s" in text')"
ok "a check whose sandbox cannot be built does not run: the model is not told, the task pauses"

# t has no check of its own: merged, then the integration run on main
# cannot build its sandbox and ends as an error, its command not run.
ctl submit "no sandbox for integration" --domains t >/dev/null || fail submit
run_state() {
	json_get "[(x['state'], 'user namespace' in (x.get('error') or '')) for x in r['integration']['runs']][:1]" task 2
}
run_ended() {
	st=$(json_get "[x['state'] for x in r['integration']['runs']][:1]" task 2)
	[ "$st" != "[]" ] && [ "$st" != "['running']" ]
}
wait_until "the integration run to end" run_ended
[ "$(run_state)" = "[('error', True)]" ] || fail "integration run: $(json_get "r['integration']" task 2)"
[ -e "$T/integration-ran" ] && fail "the integration check ran without its sandbox"
ok "an integration run whose sandbox cannot be built ends as an error, nothing run"
