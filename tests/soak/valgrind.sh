# Soak under valgrind (issue 7): a short run, no faults, with masterd
# under memcheck (its children are not: valgrind does not follow exec).
# The control requests are exercised, the last task gets a user directive
# (a round that changes nothing), the others are cancelled (their
# children are stopped and freed while masterd runs) and the last is left
# improving, with its children up, for the stop path.  Invariants: the
# same as soak.sh for what the tasks left in git and SQLite; masterd stops
# gracefully on `masterctl stop`; valgrind exits 0 (no memory error, no
# definitely or indirectly lost block) and reports "definitely lost: 0
# bytes" or "All heap blocks were freed".
#
#   VG_TASKS (3)  VG_DOMAINS (2)  SOAK_DEADLINE (300 s for the whole run)
# Without valgrind on the box: "skip: no valgrind", exit 0; the same for
# a masterd built with AddressSanitizer (make sanitize).
. "$(dirname "$0")/../e2e/lib.subr"
SOAK_DEADLINE=${SOAK_DEADLINE:-300}
. "$(dirname "$0")/soak.subr"

if ! command -v valgrind >/dev/null 2>&1; then
	echo "skip: no valgrind"
	exit 0
fi
if asan_build; then
	echo "skip: masterd is built with AddressSanitizer, which valgrind cannot run"
	exit 0
fi
VG_TASKS=${VG_TASKS:-3}
VG_DOMAINS=${VG_DOMAINS:-2}
export LLMD_TEST_KEY="sk-llmd-valgrind-$$"
export LLMD_API_KEY="$LLMD_TEST_KEY"

soak_script "$T/script.json" "$VG_DOMAINS"
start_llmd "$T/script.json"

# masterd under memcheck: the wrapper execs valgrind, which execs its
# tool, so $MD_PID is the process that runs masterd and exits with
# valgrind's status.  child_path is set so that finding the children does
# not depend on what /proc/self/exe says under valgrind.
cat >"$T/vg-masterd" <<EOF
#!/bin/sh
exec valgrind --leak-check=full \\
    --errors-for-leak-kinds=definite,indirect --error-exitcode=9 \\
    --num-callers=30 --log-file="$T/valgrind.log" "$BUILD/masterd" "\$@"
EOF
chmod +x "$T/vg-masterd"
MASTERD="$T/vg-masterd"
CHILD_PATH="$BUILD/masterd-child"
# Under valgrind masterd is slow to ping: no pong for 3 s must not be
# taken for a hung child.
soak_config "$VG_DOMAINS"
sed -e 's/^ping_interval = .*/ping_interval = 1s/' \
    -e 's/^ping_timeout = .*/ping_timeout = 30s/' "$T/masterd.conf" \
    >"$T/masterd.conf.new" && mv "$T/masterd.conf.new" "$T/masterd.conf"
DEADLINE=$(soak_left)
start_masterd
ok "masterd runs under valgrind"

"$MASTERCTL" --json watch >"$T/watch.jsonl" 2>"$T/watch.err" &
WATCH_PID=$!
DOMAINS=$(soak_domains "$VG_DOMAINS")
i=1
while [ "$i" -le "$VG_TASKS" ]; do
	ctl submit "valgrind task $i" --domains "$DOMAINS" >/dev/null ||
	    fail "submit $i"
	i=$((i + 1))
done
soak_wait_settled "$T/watch.jsonl" || fail "not settled: $(soak_settled)"
ok "$VG_TASKS tasks of $VG_DOMAINS domains settled"

soak_snapshot "$VG_TASKS" fail
# The read paths and a user directive (its answer changes nothing: a round
# without a commit) while masterd is under valgrind.
LAST=$VG_TASKS
for req in status tasks domains "task $LAST" "interfaces $LAST" \
    "interface d1 --task $LAST" "transcript d1 --task $LAST"; do
	ctl $req >/dev/null || fail "masterctl $req"
	ctl --json $req >/dev/null || fail "masterctl --json $req"
done
ctl directive d1 "check your work again" --task "$LAST" >/dev/null ||
    fail "directive"
soak_wait_settled "$T/watch.jsonl" || fail "not settled: $(soak_settled)"
ctl --json task "$LAST" --all >"$T/snap/task-$LAST.json" ||
    fail "task $LAST not shown"
ok "read requests and a user directive"
i=1
while [ "$i" -lt "$VG_TASKS" ]; do
	ctl cancel "$i" >/dev/null || fail "cancel $i"
	i=$((i + 1))
done
soak_wait "the cancelled tasks' children to go" sh -c "[ \$($MASTERCTL --json status | python3 -c 'import json,sys; print(sum(1 for c in json.load(sys.stdin)[\"children\"] if c[\"task\"] < $VG_TASKS))') = 0 ]"
kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null

soak_stop_masterd
python3 "$SOAK/verify.py" --tasks "$VG_TASKS" --domains "$VG_DOMAINS" \
    --snapshots "$T/snap" --state "$T/state" --log "$T/masterd.log" \
    --record "$LLMD_RECORD" --watch "$T/watch.jsonl" --stats "$T/stats" ||
    fail "verify"
ok "every accepted round once in git and SQLite"

grep -E "definitely lost|indirectly lost|ERROR SUMMARY|All heap blocks" \
    "$T/valgrind.log" | sed 's/^==[0-9]*== */    /'
if [ "$MD_STATUS" != 0 ]; then
	# The first error, last, where a runner's tail shows it.
	echo "--- valgrind's first error ---"
	sed -n '7,40p' "$T/valgrind.log"
	echo "FAIL: masterd under valgrind exited with status $MD_STATUS" \
	    "(9: valgrind found errors)"
	exit 1
fi
grep -q "definitely lost: 0 bytes" "$T/valgrind.log" ||
    grep -q "All heap blocks were freed" "$T/valgrind.log" ||
    fail "valgrind: blocks definitely lost"
ok "valgrind: exit status 0, nothing definitely lost"
