# Invariant: masterd refuses a state directory others can write (it holds
# the repositories, their hooks and config, the registry), and whatever
# the operator's umask, nothing masterd or its children create there is
# writable by group or others: with umask 0, after a task's directive is
# committed and merged, no file or directory under the state directory is.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-regress-modes-$$"

llmd_script <<'PY'
import json, sys
from answers import *
rules = [CRITIC, PLANNER, KEEPER,
  {"match": {"system_contains": dom("solo")},
   "reply": {"text": answer("solo", [f("a.txt"), f("dir/b.txt")], "files")}}]
write_rules(rules)
PY
keeper_config
umask 0
mkdir -m 0777 "$T/state"
# refused: masterd exits non-zero without ever answering on its socket.
refused() {
	"$MASTERD" -f -c "$T/masterd.conf" >"$T/refused.log" 2>&1 &
	MD_PID=$!
	wait_until "masterd to exit or answer" sh -c \
	    "! kill -0 $MD_PID 2>/dev/null || $MASTERCTL status"
	if kill -0 "$MD_PID" 2>/dev/null; then
		kill -KILL "$MD_PID"
		wait "$MD_PID" 2>/dev/null
		MD_PID=""
		return 1
	fi
	wait "$MD_PID" && rc=0 || rc=$?
	MD_PID=""
	[ "$rc" != 0 ]
}
refused || fail "masterd started with a state directory mode 0777"
grep -q "can be written by others (mode 0777)" "$T/refused.log" ||
    fail "no clear reason: $(cat "$T/refused.log")"
[ -e "$T/state/masterd.db" ] && fail "the refused start created the registry"
ok "a state directory others can write is refused: $(grep -o 'state directory.*' "$T/refused.log" | head -1)"

chmod 0775 "$T/state"
refused || fail "masterd started with a state directory mode 0775"
ok "a group-writable one too"

chmod 0700 "$T/state"
start_masterd
ctl submit "modes" --domains solo,keeper >/dev/null || fail submit
wait_until "solo's directive done" directive_done 1 solo Build
wait_until "solo's files on main" git_in 1 cat-file -e main:solo/dir/b.txt
(umask 022 && release_keeper)	# the test's own file
loose=$(find "$T/state" -perm /022 ! -type l ! -type s 2>/dev/null | head -5)
[ -z "$loose" ] || fail "writable by others under umask 0: $loose"
ok "with umask 0, nothing under the state directory is writable by others"
done_testing
