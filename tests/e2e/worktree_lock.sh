# Invariant: a worker whose worktree waits on the repository's worktree
# lock (held here by another process, as a sibling making its own would)
# keeps its loop free: it answers the relay's pings, nobody kills it, and
# once the lock is released the directive runs on the worktree made then.
# The wait is off the loop (repo_worktree in libuv's thread pool): the
# worker's main thread sleeps in epoll while a pool thread sleeps in
# flock.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-wtlock-$$"
PING_TIMEOUT=1s

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

# Its threads: one waits for the lock, the main one in its event loop.
waits_on_lock() {
	for w in /proc/"$worker"/task/*/wchan; do
		[ "$(cat "$w" 2>/dev/null)" = locks_lock_inode_wait ] && return 0
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
# and kills a worker silent for 1 s.
t_end=$(( $(date +%s) + 4 ))
wait_until "three ping timeouts to pass" sh -c "[ \$(date +%s) -ge $t_end ]"
kill -0 "$worker" 2>/dev/null || fail "the worker died while it waited"
waits_on_lock || fail "the worker no longer waits on the lock, and the lock is held"
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
