# Invariant: SIGTERM while rounds are in flight (one child streaming an
# answer, one running a check command) stops masterd gracefully: every
# child is told to shut down and leaves by itself (no SIGTERM or SIGKILL
# escalation), their check commands go with them, masterd exits 0 within
# its stop grace; the next masterd requeues the interrupted directives and
# finishes them, one commit each.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-regress-sigterm-$$"
GRACE=10

llmd_script <<'PY'
import json, sys
from answers import *
rules = [CRITIC, PLANNER,
  # The first answer streams slowly (about 30 s, so that it is still
  # streaming when a loaded machine has set up the rest); the redo is quick.
  {"match": {"system_contains": dom("slow")},
   "fault": {"event_delay": 1.0, "count": 1},
   "reply": {"chunk": 8, "text": answer("slow", [f("slow.txt")], "slow")}},
  {"match": {"system_contains": dom("checky")},
   "reply": {"text": answer("checky", [f("checky.txt")], "checky")}},
]
write_rules(rules)
PY
llm_config_with <<CONF
[domain "checky"]
check = sh -c 'test -e check-ran && exit 0; touch check-ran; sleep 30.$$; true'
CONF
sed -i "s/^stop_grace = .*/stop_grace = ${GRACE}s/" "$T/masterd.conf"
start_masterd
start_watch "$T/watch"
ctl submit "sigterm" --domains slow,checky >/dev/null || fail submit

streaming() {
	watch_has "$T/watch" "e.get('domain') == 'slow' and $STREAMED"
}
wait_until "slow streaming" streaming
wait_until "checky's check running" test -e "$T/state/tasks/1/domains/checky/check-ran"
check_sh() {
	check_pids=$(cmd_pids "sleep 30.$$")
	[ -n "$check_pids" ]
}
wait_until "the check's process" check_sh
kids=$(json_get "' '.join(str(c['pid']) for c in r['children'])" status)

t0=$(date +%s%N)
kill -TERM "$MD_PID"
wait_until "masterd to exit" sh -c "! kill -0 $MD_PID"
wait "$MD_PID"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$rc" = 0 ] || fail "masterd exited with status $rc after SIGTERM"
[ "$ms" -le $((GRACE * 1000)) ] || fail "masterd took $ms ms to stop (stop_grace ${GRACE}s)"
ok "SIGTERM: masterd exited 0 after $ms ms"

for d in slow checky; do
	log_has "masterd-child/$d\[[0-9]*\] info: shutdown: " || fail "$d was not told to shut down"
done
log_has "no exit after shutdown" && fail "a child needed SIGTERM: $(grep 'no exit after' "$T/masterd.log")"
for p in $kids; do
	alive "$p" && fail "child $p still alive after masterd exited"
done
checks_gone() {
	for p in $check_pids; do
		alive "$p" && return 1
	done
	return 0
}
wait_until "the check command to go with its child" checks_gone
ok "children got shutdown and left by themselves, with their check"

MD_PID=""
start_masterd
log_has "resuming task 1" || fail "task 1 not resumed"
wait_until "slow's directive done" directive_done 1 slow Build
wait_until "checky's directive done" directive_done 1 checky Build
for d in slow checky; do
	[ "$(own_commits 1 $d)" = 1 ] || fail "$d: not exactly one commit"
done
[ "$(requests_to slow)" = 2 ] || fail "slow: $(requests_to slow) model requests, want 2 (the cut one and the redo)"
check_repo 1
ok "after the restart the interrupted directives were redone: one commit each"
done_testing
