# Invariant: state stops growing.  Progress events older than [masterd]
# event_retention are deleted by housekeeping, in batches, and nothing
# else is; `masterctl prune` removes the repository and worktrees of a
# cancelled task (the registry keeps its rows: `masterctl task` still
# answers) and never anything of a task that is not over.  Before (issue
# #14) the events table was never pruned (+240 MiB from one child) and a
# cancelled task kept its files for ever.
. "$(dirname "$0")/lib.subr"
. "$REGRESS_DIR/loop.subr"
use_hostchild
echo '{"hold": true}' >"$FAKECHILD_DIR/good.json"
echo '{"hold": true}' >"$FAKECHILD_DIR/gone.json"
start_notify
write_config </dev/null
sed -i 's/^\[masterd\]$/[masterd]\nevent_retention = 1h/' "$T/masterd.conf"
start_watched_masterd
ctl submit "kept" --domains good >/dev/null || fail "submit 1"
ctl submit "cancelled" --domains gone >/dev/null || fail "submit 2"
wait_until "good running" state_is good running
wait_until "gone running" state_is gone running
grow_registry 4	# 4,096 progress events of task 1, a day old
others() {
	python3 -c "import sqlite3; print(sqlite3.connect('$T/state/masterd.db').execute(\"select count(*) from events where event != 'progress' or ts > strftime('%s','now') - 3600\").fetchone()[0])"
}
old_progress() {
	python3 -c "import sqlite3; print(sqlite3.connect('$T/state/masterd.db').execute(\"select count(*) from events where event = 'progress' and ts < strftime('%s','now') - 3600\").fetchone()[0])"
}
[ "$(old_progress)" -ge 4096 ] || fail "the old events were not added"
before=$(others)
no_old_progress() { [ "$(old_progress)" = 0 ]; }
wait_within "$DEADLINE" "expired progress events pruned" no_old_progress ||
    fail "progress events past event_retention were not pruned ($(old_progress) left)"
after=$(others)
[ "$after" -ge "$before" ] || fail "events within retention or not progress were deleted ($before -> $after)"
ok "4,096 progress events past retention pruned by housekeeping; the other $after events kept"

ctl cancel 2 >/dev/null || fail "cancel 2"
wait_until "task 2 cancelled" sh -c "[ \"\$($MASTERCTL --json task 2 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"task\"][\"state\"])')\" = cancelled ]"
wait_until "task 2's child gone" sh -c "! $MASTERCTL --json status | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(not any(c[\"domain\"]==\"gone\" for c in r[\"children\"]))'"
[ -d "$T/state/tasks/2/repo.git" ] || fail "task 2 has no repository to prune"
# The stand-in children make no worktrees: a file where each would be.
for t in 1 2; do
	mkdir -p "$T/state/tasks/$t/domains/w" && touch "$T/state/tasks/$t/domains/w/file"
done
"$MASTERCTL" --json prune >"$T/prune.json" 2>&1 || fail "masterctl prune: $(cat "$T/prune.json")"
python3 - "$T/prune.json" <<'PY' || fail "prune answered $(cat "$T/prune.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["tasks"] == [2], r
PY
[ ! -e "$T/state/tasks/2/repo.git" ] || fail "task 2's repository is still there"
[ ! -e "$T/state/tasks/2/domains" ] || fail "task 2's worktrees are still there"
[ -d "$T/state/tasks/1/repo.git" ] || fail "task 1 (running) lost its repository"
[ -f "$T/state/tasks/1/domains/w/file" ] || fail "task 1 (running) lost its worktrees"
[ "$(json_get "r['task']['state']" task 2)" = cancelled ] || fail "task 2's record is gone"
ok "prune removed the files of the cancelled task only; its record stays"
"$MASTERCTL" --json prune --finished 1 >"$T/prune2.json" 2>&1 || fail "masterctl prune --finished: $(cat "$T/prune2.json")"
grep -q '"tasks": \[\]' "$T/prune2.json" || fail "a second prune found more: $(cat "$T/prune2.json")"
[ -d "$T/state/tasks/1/repo.git" ] || fail "task 1 (running) lost its repository"
"$MASTERCTL" prune --finished 0 >/dev/null 2>&1 && fail "prune --finished 0 accepted"
ok "a second prune (finished tasks too) removed nothing of the running task"
done_testing
