# Invariant: masterctl keeps the conventions of git, kubectl and systemctl
# (issue #17): options before or after the command; --version and --help;
# "did you mean" for a mistyped command or option; one success line for
# every command that changes something; tables cut to $COLUMNS with an
# ellipsis and one line per row whatever the text; `reload` says what
# changed or why it refused; `metrics` prints masterd's Prometheus text;
# transcripts go through $PAGER on a terminal.  And the bugs: `domains 99`
# is an error, `--last 0` is not "not a task id", a socket this user may
# not use is not "is masterd running?", `backup` honours --json.
. "$(dirname "$0")/lib.subr"
use_fakechild
write_config </dev/null
start_masterd

# Options anywhere; --version, --help.
ctl status --json | python3 -c 'import json,sys; json.load(sys.stdin)' ||
    fail "--json after the command"
ctl tasks -s "$MASTERD_SOCKET" >/dev/null || fail "-s after the command"
ctl --socket="$MASTERD_SOCKET" tasks >/dev/null || fail "--socket=PATH"
ctl --version | grep -q "^masterctl [0-9]" || fail "--version: $(ctl --version)"
ctl --help | grep -q "^usage: masterctl" || fail "--help"
ctl task --help | grep -q "^usage: masterctl task" || fail "task --help"
ok "options before or after the command, --version, --help"

# Did you mean.
ctl stauts 2>"$T/err"; [ $? -eq 2 ] || fail "unknown command exit"
grep -q "did you mean 'status'" "$T/err" || fail "command: $(cat "$T/err")"
ctl status --jsno 2>"$T/err"; [ $? -eq 2 ] || fail "unknown option exit"
grep -q "did you mean '--json'" "$T/err" || fail "option: $(cat "$T/err")"
ctl tasks --wait 2>"$T/err"; [ $? -eq 2 ] || fail "an option the command does not take"
grep -q "tasks takes no --wait" "$T/err" || fail "$(cat "$T/err")"
ok "did you mean"

# One line of success per command.
ctl submit "$(printf 'first line of the task\nsecond line')" --domains alpha \
    >"$T/out" || fail submit
grep -qx "task 1 submitted" "$T/out" || fail "submit: $(cat "$T/out")"
wait_until "alpha running" all_running 1
[ "$(ctl spawn 1 beta)" = "domain beta added to task 1" ] || fail "spawn"
wait_until "beta running" all_running 2
[ "$(ctl restart beta --task 1)" = "domain beta restarted" ] || fail "restart"
[ "$(ctl pause 1)" = "task 1 paused" ] || fail "pause: $(ctl pause 1)"
[ "$(ctl resume --task 1)" = "task 1 resumed" ] || fail "resume"
ok "spawn, restart, pause, resume say what they did"

# Tables: one line per row, cut to the width.
ctl submit "$(python3 -c 'print("long " * 40)')" --domains gamma >/dev/null
[ "$(ctl tasks | wc -l)" = 3 ] || fail "tasks table: $(ctl tasks)"
ctl tasks | grep -q "first line of the task…" || fail "multi-line text: $(ctl tasks)"
COLUMNS=50 ctl tasks >"$T/tasks"
python3 - "$T/tasks" <<'PY' || fail "COLUMNS=50: $(cat "$T/tasks")"
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert all(len(l) <= 50 for l in lines), [len(l) for l in lines]
assert any(l.endswith("…") for l in lines), lines
PY
ok "tables: one line per row, cut to \$COLUMNS with an ellipsis"

# Bugs.
ctl domains 99 2>"$T/err"; [ $? -eq 1 ] || fail "domains 99 must fail"
grep -q "no task 99" "$T/err" || fail "domains 99: $(cat "$T/err")"
ctl transcript alpha --last 0 2>"$T/err"; [ $? -eq 2 ] || fail "--last 0"
grep -q "not a task id" "$T/err" && fail "--last 0: $(cat "$T/err")"
grep -q -- "--last takes a whole number from 1" "$T/err" || fail "--last 0: $(cat "$T/err")"
ctl --json backup "$T/copy.db" >"$T/backup.json" || fail backup
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["integrity"] == "ok" and r["size"] > 0, r' \
    "$T/backup.json" || fail "backup --json: $(cat "$T/backup.json")"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	chmod 700 "$T"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$MASTERCTL" \
	    -s "$MASTERD_SOCKET" status 2>"$T/err"; rc=$?
	[ $rc -eq 3 ] || fail "denied socket: exit $rc"
	grep -q "Permission denied" "$T/err" || fail "denied: $(cat "$T/err")"
	grep -q "is masterd running" "$T/err" && fail "denied socket hint: $(cat "$T/err")"
	grep -q "may not use its socket" "$T/err" || fail "denied hint: $(cat "$T/err")"
	ok "a socket this user may not use gets its own hint"
fi
ok "domains 99 fails, --last 0 is a count, backup --json"

# cancel, reload.
[ "$(ctl cancel 2)" = "task 2 cancelled" ] || fail "cancel"
ctl reload >"$T/out" || fail "reload: $(cat "$T/out")"
grep -q "nothing changed" "$T/out" || fail "reload: $(cat "$T/out")"
sed -i 's/^log_level = debug/log_level = info/' "$T/masterd.conf"
ctl reload >"$T/out" || fail "reload: $(cat "$T/out")"
grep -q "1 setting(s) changed: masterd.log_level" "$T/out" || fail "reload: $(cat "$T/out")"
echo "nonsense line" >>"$T/masterd.conf"
ctl reload 2>"$T/err"; [ $? -eq 1 ] || fail "a broken config must be refused"
grep -q "reload refused" "$T/err" || fail "refused: $(cat "$T/err")"
ctl status >/dev/null || fail "masterd after a refused reload"
ok "reload: what changed, or why it was refused"

# metrics and the pager, against a stand-in masterd.
python3 "$TOP/tests/e2e/ctl_fakemd.py" "$T/fake.sock" &
FAKE=$!
wait_until "the stand-in" test -S "$T/fake.sock"
ctl -s "$T/fake.sock" metrics >"$T/metrics" || fail metrics
grep -q '^masterd_tasks{state="running"} 1$' "$T/metrics" || fail "metrics: $(cat "$T/metrics")"
PAGER='sed "s/^/PAGED: /"' python3 "$TOP/tests/e2e/ctl_pty.py" --raw "$T/raw" \
    --screen "$T/screen" -- "$MASTERCTL" -s "$T/fake.sock" transcript alpha \
    >/dev/null || fail "transcript on a pty"
grep -q "^PAGED: answer 199" "$T/screen" || fail "no pager: $(tail -3 "$T/screen")"
PAGER='sed "s/^/PAGED: /"' ctl -s "$T/fake.sock" transcript alpha | grep -q PAGED &&
    fail "a pager off a terminal"
kill "$FAKE"
ok "metrics prints the text; transcripts through \$PAGER on a terminal only"

[ "$(ctl stop)" = "masterd is stopping (its tasks go on at its next start)" ] || fail stop
ok "stop says so"
