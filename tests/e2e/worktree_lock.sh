# Invariant: a worker whose worktree waits on the repository's worktree
# lock (held here by another process, as a sibling making its own would)
# keeps its loop free: it answers the relay's pings, nobody kills it, and
# once the lock is released the directive runs on the worktree made then.
# The wait is off the loop (repo_worktree in libuv's thread pool): the
# worker's main thread sleeps in epoll while a pool thread waits for the
# lock.  A directive cancelled meanwhile (the task paused) ends the wait
# at once, the lock still held.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-wtlock-$$"
PING_TIMEOUT=2s

answer_script "$T/script.json" "first second"
start_llmd "$T/script.json"
llm_config | write_config
start_masterd

ctl submit "worktree lock" --domains first >/dev/null || fail submit
wait_until "the first domain's directive done" sh -c \
    "[ \"\$(\"$MASTERCTL\" --json task 1 | python3 -c \"import json,sys; r=json.load(sys.stdin); print([x['state'] for x in r['directives'] if x['domain']=='first'])\")\" = \"['done']\" ]"

# Hold the lock in a process of our own until told to let go.
lock="$T/state/tasks/1/repo.git/masterd-worktrees.lock"
[ -e "$lock" ] || fail "no worktree lock file at $lock"
flock "$lock" sh -c "touch '$T/held'; while [ ! -e '$T/release' ]; do sleep 0.05; done" &
HOLDER=$!
wait_until "the lock held" test -e "$T/held"

ctl spawn 1 second >/dev/null || fail spawn
wait_until "the second worker on its directive" log_has "masterd-worker/second\[[0-9]*\] info: directive [0-9]*:"
worker=$(sed -n 's/.*masterd-worker\/second\[\([0-9]*\)\] info: directive [0-9]*:.*/\1/p' "$T/masterd.log" | head -1)
[ -n "$worker" ] || fail "no worker pid in the log"

# Its threads: one waits for the lock (trying it every few ms, so that
# a cancel can end the wait), the main one in its event loop.
waits_on_lock() {
	for w in /proc/"$worker"/task/*; do
		[ "${w##*/}" = "$worker" ] && continue
		case "$(cat "$w/wchan" 2>/dev/null)" in
		locks_lock_inode_wait|hrtimer_nanosleep|do_nanosleep) return 0 ;;
		esac
	done
	return 1
}
wait_until "a thread of the worker waiting on the lock" waits_on_lock
main_wchan=$(cat "/proc/$worker/task/$worker/wchan" 2>/dev/null)
case "$main_wchan" in
*lock*) fail "the worker's loop waits on the lock ($main_wchan)" ;;
esac
ok "the worker waits for the lock off its loop (main thread in $main_wchan)"

# Three ping timeouts with the lock held: the relay pings every 200 ms
# and kills a worker silent for 2 s.
t_end=$(( $(date +%s) + 6 ))
wait_until "three ping timeouts to pass" sh -c "[ \$(date +%s) -ge $t_end ]"
kill -0 "$worker" 2>/dev/null || fail "the worker died while it waited"
wait_until "the worker still waiting on the lock" waits_on_lock
log_has "answered no ping" && fail "a worker missed a ping"
log_has "no pong" && fail "a relay missed a ping"
[ "$(json_get "[c['restarts'] for c in r['children'] if c['domain']=='second'][0]" status)" = 0 ] ||
    fail "the second domain restarted"
ok "the worker answered every ping while the lock was held"

touch "$T/release"
wait "$HOLDER"
wait_until "the second domain's directive done" sh -c \
    "[ \"\$(\"$MASTERCTL\" --json task 1 | python3 -c \"import json,sys; r=json.load(sys.stdin); print([x['state'] for x in r['directives'] if x['domain']=='second'])\")\" = \"['done']\" ]"
[ -f "$T/state/tasks/1/domains/second/.git" ] || fail "no worktree for second"
git_in 1 worktree list --porcelain | grep -q "branch refs/heads/domain/second" ||
    fail "git does not list the second worktree"
git_in 1 worktree list --porcelain | grep -q "^locked" &&
    fail "a worktree is still marked initializing"
log_has "SIGKILL" && fail "something was killed"
ok "once the lock is released the directive runs, on a worktree git knows"

# Held again, and the next directive's wait cut short by a pause.
directive_of_second() {	# text: its state
	"$MASTERCTL" --json task 1 | python3 -c "import json,sys; r=json.load(sys.stdin); print([x['state'] for x in r['directives'] if x['domain']=='second' and x['text']=='$1'])"
}
flock "$lock" sh -c "touch '$T/held2'; while [ ! -e '$T/release2' ]; do sleep 0.05; done" &
HOLDER=$!
wait_until "the lock held again" test -e "$T/held2"
ctl directive second "again" --task 1 >/dev/null || fail directive
wait_until "a worker on the next directive" log_has "masterd-worker/second\[[0-9]*\] info: directive [0-9]*: again"
worker=$(sed -n 's/.*masterd-worker\/second\[\([0-9]*\)\] info: directive [0-9]*: again.*/\1/p' "$T/masterd.log" | tail -1)
wait_until "its wait for the lock" waits_on_lock
ctl pause 1 >/dev/null || fail pause
wait_until "the directive given back, the lock still held" sh -c \
    "[ \"\$(\"$MASTERCTL\" --json task 1 | python3 -c \"import json,sys; r=json.load(sys.stdin); print([x['state'] for x in r['directives'] if x['domain']=='second' and x['text']=='again'])\")\" != \"['running']\" ]"
[ -e "$T/release2" ] && fail "the lock was released"
log_has "SIGKILL" && fail "something was killed"
ok "a cancel ends the wait for the lock at once ($(directive_of_second again))"
ctl resume 1 >/dev/null || fail resume
touch "$T/release2"
wait "$HOLDER"
wait_until "the directive done once resumed" sh -c "[ \"\$(\"$MASTERCTL\" --json task 1 | python3 -c \"import json,sys; r=json.load(sys.stdin); print([x['state'] for x in r['directives'] if x['domain']=='second' and x['text']=='again'])\")\" = \"['done']\" ]"
log_has "SIGKILL" && fail "something was killed"
ok "resumed, the directive runs"
