# Invariant: `backup` copies the registry in slices of loop turns: ten
# backups at once of a registry of a few hundred MiB, while a task runs,
# all give a good copy (masterctl checks each: integrity, schema), the
# watchdog is fed, masterctl status is answered, and the well-behaved child
# keeps answering pings (same pid, no restart).  Before (issue #14) each
# backup copied the whole database in one step on the loop: 10 pipelined
# backups of 400 MiB stalled masterd 10.3 s and a healthy child was killed.
. "$(dirname "$0")/lib.subr"
. "$REGRESS_DIR/loop.subr"
MIB=${REGRESS_BACKUP_MIB:-200}
N=${REGRESS_BACKUPS:-10}
use_hostchild
echo '{"hold": true}' >"$FAKECHILD_DIR/good.json"
start_notify
write_config </dev/null
start_watched_masterd
ctl submit "backups" --domains good >/dev/null || fail submit
wait_until "good running" state_is good running
grow_registry "$MIB"
wait_until "good running again" state_is good running
wait_until "good's directive running" sh -c \
    "$MASTERCTL --json task 1 | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(not any(d[\"domain\"]==\"good\" and d[\"state\"]==\"running\" for d in r[\"directives\"]))'"
good_pid=$(child_pid good)
ok "registry at $(registry_mib) MiB; good running as pid $good_pid"

watchdog_mark
t0=$(date +%s)
start_backups "$N"
# While they run, masterctl is answered and a task accepts a directive.
status_answers
ctl directive good "while the backups run" >/dev/null || fail "directive refused during the backups"
backups_done
ok "$N concurrent backups in $(( $(date +%s) - t0 )) s"
# One whole copy, checked by masterctl (integrity, schema).
ctl backup "$T/copy.db" >/dev/null || fail "masterctl backup"
events=$(python3 -c "import sqlite3; print(sqlite3.connect('$T/copy.db').execute('select count(*) from events').fetchone()[0])")
[ "$events" -ge $((MIB * 1024)) ] || fail "the copy holds $events events, fewer than the $((MIB * 1024)) added"
ls "$T/state" | grep -q '^backup-' && fail "copies left in the state directory: $(ls "$T/state" | grep '^backup-')"
ok "a whole copy holds the registry ($events events); none left behind"
watchdog_ok
ok "the watchdog was fed throughout (longest gap $(watchdog_gap) s of ${WATCHDOG_SEC} s)"
healthy_untouched good "$good_pid"
ok "the well-behaved child answered every ping: same pid $good_pid, no restart"
sigterm_honoured
ok "SIGTERM honoured"
done_testing
