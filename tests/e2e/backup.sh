# Invariant: `masterctl backup FILE` takes a consistent copy of the
# registry while masterd runs and works, leaves nothing behind in the state
# directory, and the copy restores: a daemon started on it finds every
# task, domain, interface version and directive.
. "$(dirname "$0")/lib.subr"
use_fakechild
write_config </dev/null
start_masterd
ctl submit "backed up" --domains alpha,beta >/dev/null || fail submit
wait_until "two interfaces" sh -c "[ \$($MASTERCTL --json interfaces 1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"interfaces\"]))') = 2 ]"
ctl directive alpha "publish:alpha.more" >/dev/null

ctl backup "$T/copy.db" >"$T/out" || fail "backup: $(cat "$T/out")"
grep -q "integrity ok" "$T/out" || fail "backup output: $(cat "$T/out")"
[ -s "$T/copy.db" ] || fail "empty copy"
ls "$T/state" | grep -q '^backup-' && fail "backup left a copy in the state dir"
# The copy is one file: checking it (masterctl, sqlite3) leaves no
# journal beside it.
ls "$T" | grep -q '^copy\.db.' && fail "backup left beside the copy: $(ls "$T" | grep '^copy\.db.')"
python3 -c 'import sys; sys.exit(open(sys.argv[1],"rb").read(20)[18:20] != bytes([1,1]))' "$T/copy.db" \
    || fail "the copy is still in WAL mode"
ok "backup while running: $(cat "$T/out")"

ctl --json tasks >"$T/tasks.before"
ctl --json interfaces 1 >"$T/ifaces.before"
ctl stop >/dev/null
wait_until "masterd exit" sh -c "! kill -0 $MD_PID"

# Restore: the copy replaces the database; what a crash left of a
# fetch or an import (a copy, a pack, a half-built repository) goes.
cp "$T/copy.db" "$T/state/masterd.db"
rm -f "$T/state/masterd.db-wal" "$T/state/masterd.db-shm"
: >"$T/state/backup-1-1.db"
: >"$T/state/pack-1-2.pack"
mkdir -p "$T/state/import-1-3.git/objects/pack"
: >"$T/state/import-1-3.git/objects/pack/x.pack"
start_masterd
[ -e "$T/state/backup-1-1.db" ] && fail "stale backup copy not removed"
[ -e "$T/state/pack-1-2.pack" ] && fail "stale pack not removed"
[ -e "$T/state/import-1-3.git" ] && fail "a half-built import's repository not removed"
[ "$(json_get "[(t['id'], t['text']) for t in r['tasks']]" tasks)" = "[(1, 'backed up')]" ] \
    || fail "tasks after restore"
[ "$(json_get "sorted(i['domain'] for i in r['interfaces'])" interfaces 1)" = "['alpha', 'beta']" ] \
    || fail "interfaces after restore"
ok "the copy restores: tasks and interfaces back"

ctl backup /nonexistent-dir/copy.db 2>/dev/null && fail "backup into a missing directory succeeded"
ok "a backup that cannot be written fails"
