# Soak test (issue 7): many tasks of several domains each against a test
# LLM server that injects random faults (429 with Retry-After, 503, cut
# streams, stalls).  Invariants, once the load has settled:
#   - every accepted round (ok, with a commit) is in git exactly once: its
#     commit exists, is on its domain's branch (and merged into main),
#     authored by the domain, carries its round's trailer, is shared with
#     no other round, and each branch holds exactly the commits of its
#     domain's accepted rounds;
#   - every accepted round is in SQLite exactly once (one rounds row per
#     commit, the same rows masterctl shows);
#   - no task is stuck: each is improving, done or failed, unpaused, with
#     no directive queued or running; a failed task is legitimate only when
#     its rounds all ended in errors (repeated faults), and it is reported;
#   - only faults make work fail: every directive retried or dropped failed
#     with code "model" (a call that failed after its retries), and no
#     request tells the model its (always valid) answer was unusable;
#   - masterd comes back to its idle footprint: with every task cancelled
#     and its children gone, RSS within SOAK_RSS_SLACK_KB (8 MiB) of the
#     fresh daemon's and open fds equal to the fresh daemon's plus
#     SOAK_FD_SLACK (see below); under load, exactly one more fd per
#     child (its channel) and one for the watch client;
#   - masterd stops gracefully, exit status 0.
# Prints a table of the run.
#
# Profiles, from the environment:
#   SOAK_TASKS (30)  SOAK_DOMAINS (3)  SOAK_FAULT_RATE (0.1)
#   SOAK_DEADLINE (600: seconds for the whole run)  SOAK_SEED (7)
# CI runs SOAK_TASKS=6 (tests/soak/run); the full profile is
#   SOAK_TASKS=30 sh tests/soak/soak.sh
. "$(dirname "$0")/../e2e/lib.subr"
SOAK_DEADLINE=${SOAK_DEADLINE:-600}
. "$(dirname "$0")/soak.subr"

SOAK_TASKS=${SOAK_TASKS:-30}
SOAK_DOMAINS=${SOAK_DOMAINS:-3}
SOAK_FAULT_RATE=${SOAK_FAULT_RATE:-0.1}
SOAK_SEED=${SOAK_SEED:-7}
# RSS growth allowed between the fresh daemon and the one that has run
# the load, every task cancelled.  What masterd still uses then is close
# to idle (under massif: ~0.2-0.4 MB more, mostly SQLite's page cache,
# 2 MiB at most), but glibc keeps the pages of what it freed: each child's
# channel holds a 64 KiB frame decoder buffer (proto/frame.c) while the
# child lives, so RSS stays near its peak, ~75 KiB per child that was
# alive at once.  90 children (30 x 3) come to ~6.7 MiB: the bound holds
# up to ~110 children at once; a bigger profile must raise it.
SOAK_RSS_SLACK_KB=${SOAK_RSS_SLACK_KB:-8192}
# File descriptors: none.  masterd opens its database (with -wal and
# -shm), lock, listener, loop and signal fds before it is ready; all else
# it opens during the load (children's channels, control clients, the
# task repositories libgit2 opens for a merge) belongs to a child or a
# request and must be closed when it ends.
SOAK_FD_SLACK=${SOAK_FD_SLACK:-0}

for v in SOAK_TASKS SOAK_DOMAINS SOAK_DEADLINE SOAK_SEED; do
	eval "x=\$$v"
	case "$x" in ''|*[!0-9]*) fail "$v must be a whole number, not '$x'" ;; esac
done
[ "$SOAK_TASKS" -ge 1 ] && [ "$SOAK_DOMAINS" -ge 1 ] ||
    fail "SOAK_TASKS and SOAK_DOMAINS must be at least 1"

export LLMD_TEST_KEY="sk-llmd-soak-$$"
export LLMD_API_KEY="$LLMD_TEST_KEY"
FAILED=0
bad() {
	echo "FAIL: $*" | tee -a "$T/failures"
	FAILED=1
}

soak_script "$T/script.json" "$SOAK_DOMAINS"
DEADLINE=$(soak_left)
LLMD_ARGS="--fault-rate $SOAK_FAULT_RATE --seed $SOAK_SEED" \
    start_llmd "$T/script.json"
soak_config "$SOAK_DOMAINS"
DEADLINE=$(soak_left)
start_masterd

# The fresh daemon's footprint: nothing submitted, no client connected.
set -- $(soak_measure "$MD_PID")
RSS_IDLE=$1 FDS_IDLE=$2
fd_targets "$MD_PID" >"$T/fds.idle"
ok "idle: RSS $RSS_IDLE kB, $FDS_IDLE fds"

# Events drive the wait below.
"$MASTERCTL" --json watch >"$T/watch.jsonl" 2>"$T/watch.err" &
WATCH_PID=$!
soak_wait "watch to connect" sh -c \
    "[ \$($MASTERCTL --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"clients\"])') -ge 2 ]"

DOMAINS=$(soak_domains "$SOAK_DOMAINS")
T0=$(date +%s)
i=1
while [ "$i" -le "$SOAK_TASKS" ]; do
	ctl submit "soak task $i of $SOAK_TASKS" --domains "$DOMAINS" \
	    >/dev/null || fail "submit $i"
	i=$((i + 1))
done
ok "$SOAK_TASKS tasks of $SOAK_DOMAINS domains submitted"

soak_wait_settled "$T/watch.jsonl"
case $? in
0)	ok "every task settled, nothing queued or running" ;;
2)	bad "wedged: every unsettled task is paused, nothing runs:"
	soak_settled | sed 's/^/    /' ;;
*)	bad "not settled in time (SOAK_DEADLINE=${SOAK_DEADLINE}s):"
	soak_settled | sed 's/^/    /' ;;
esac
DURATION=$(( $(date +%s) - T0 ))

# What masterctl shows of each task, kept for the checks after the stop.
soak_snapshot "$SOAK_TASKS" bad
CHILDREN=$(json_get "len(r['children'])" status)
# Loaded: idle + one channel per child + the watch client.
set -- $(soak_measure "$MD_PID")
RSS_LOADED=$1 FDS_LOADED=$2

# Back to idle: every task still open cancelled, every child stopped and
# freed, the watch gone.
i=1
while [ "$i" -le "$SOAK_TASKS" ]; do
	case $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["task"]["state"])' \
	    "$T/snap/task-$i.json" 2>/dev/null) in
	done|failed|cancelled) ;;
	*) ctl cancel "$i" >/dev/null || bad "cancel $i" ;;
	esac
	i=$((i + 1))
done
soak_wait "every child to stop" no_children
kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null
set -- $(soak_measure "$MD_PID")
RSS_AFTER=$1 FDS_AFTER=$2
fd_targets "$MD_PID" >"$T/fds.after"

soak_stop_masterd
[ "$MD_STATUS" = 0 ] || bad "masterd exited with status $MD_STATUS"

python3 "$SOAK/verify.py" --tasks "$SOAK_TASKS" --domains "$SOAK_DOMAINS" \
    --snapshots "$T/snap" --state "$T/state" --log "$T/masterd.log" \
    --record "$LLMD_RECORD" --watch "$T/watch.jsonl" --stats "$T/stats" \
    >"$T/verify.out" || FAILED=1
cat "$T/verify.out"
grep '^FAIL' "$T/verify.out" >>"$T/failures"

if asan_build; then
	echo "note: masterd is built with AddressSanitizer: RSS not judged"
else
	[ $((RSS_AFTER - RSS_IDLE)) -le "$SOAK_RSS_SLACK_KB" ] ||
	    bad "RSS $RSS_AFTER kB after the load, $RSS_IDLE kB idle: more than $SOAK_RSS_SLACK_KB kB apart"
fi
[ "$FDS_LOADED" = $((FDS_IDLE + CHILDREN + 1)) ] ||
    bad "$FDS_LOADED fds under load: want $FDS_IDLE idle + $CHILDREN children + 1 watch"
[ "$FDS_AFTER" -le $((FDS_IDLE + SOAK_FD_SLACK)) ] ||
{
	bad "$FDS_AFTER fds after the load, $FDS_IDLE idle (+$SOAK_FD_SLACK allowed); new:"
	diff "$T/fds.idle" "$T/fds.after" | sed -n 's/^> /    /p'
}

stat_of() {
	sed -n "s/^$1=//p" "$T/stats" 2>/dev/null
}
echo
printf '%-22s %s\n' \
    "tasks" "$SOAK_TASKS" \
    "domains" "$SOAK_DOMAINS" \
    "fault rate / seed" "$SOAK_FAULT_RATE / $SOAK_SEED" \
    "requests" "$(stat_of requests)" \
    "faults injected" "$(stat_of faults) ($(stat_of fault_kinds))" \
    "failed attempts" "$(stat_of failed_attempts)" \
    "retries" "$(stat_of retries)" \
    "rounds" "$(stat_of rounds)" \
    "accepted" "$(stat_of accepted) ($(stat_of per_domain))" \
    "directive retries" "$(stat_of dir_retries)" \
    "dropped" "$(stat_of dropped)" \
    "failed tasks" "$(stat_of failed_tasks)" \
    "branches with peers' work" "$(stat_of forked_late)" \
    "duration" "${DURATION}s (whole run $(( $(date +%s) - SOAK_START ))s)" \
    "children (loaded)" "$CHILDREN" \
    "RSS idle/loaded/after" "$RSS_IDLE / $RSS_LOADED / $RSS_AFTER kB" \
    "fds idle/loaded/after" "$FDS_IDLE / $FDS_LOADED / $FDS_AFTER"
echo
if [ "$FAILED" != 0 ]; then
	# Again, last, where a runner's tail shows them.
	cat "$T/failures"
	echo "FAIL: soak: $(wc -l <"$T/failures" | tr -d ' ') failed checks"
	exit 1
fi
ok "soak: $SOAK_TASKS tasks x $SOAK_DOMAINS domains, every accepted round once in git and SQLite, nothing stuck, back to idle"
