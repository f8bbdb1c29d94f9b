# Invariant (issue #14's stress test, loopback only): while a task runs, a
# burst of 3,000 messages from one child and 10 concurrent backups of a
# registry of some hundred MiB, all at once, leave the loop turning: the
# watchdog (WATCHDOG_USEC, as under the unit) is fed in time, masterctl is
# answered, the well-behaved child answers every ping (same pid, never
# restarted, never found unresponsive), every round is stored once, each
# backup gets a good copy, the WAL is checkpointed off the loop and stays
# bounded, and SIGTERM stops masterd.
. "$(dirname "$0")/lib.subr"
. "$REGRESS_DIR/loop.subr"
BURST=${REGRESS_BURST:-3000}
MIB=${REGRESS_BACKUP_MIB:-120}
N=${REGRESS_BACKUPS:-10}
use_hostchild
echo '{"hold": true}' >"$FAKECHILD_DIR/good.json"
echo '{}' >"$FAKECHILD_DIR/burster.json"
start_notify
write_config </dev/null
start_watched_masterd
ctl submit "loop stress" --domains good,burster >/dev/null || fail submit
wait_until "burster's first directive" directive_done 1 burster Build
grow_registry "$MIB"
wait_until "good's directive running" sh -c \
    "$MASTERCTL --json task 1 | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(not any(d[\"domain\"]==\"good\" and d[\"state\"]==\"running\" for d in r[\"directives\"]))'"
wait_until "burster running" state_is burster running
good_pid=$(child_pid good)
ok "registry at $(registry_mib) MiB; task 1 running, good as pid $good_pid"

watchdog_mark
echo "{\"rounds\": $BURST}" >"$FAKECHILD_DIR/burster.json"
ctl directive burster "burst of rounds" >/dev/null || fail "directive burster"
start_backups "$N"
burst_over() {
	status_or_note || directive_done 1 burster "burst of rounds"
}
wait_until "the burst to be taken in" burst_over
status_failures
backups_done
ok "$BURST rounds and $N backups at once: all taken in, masterctl answered throughout"
n=$(json_get "len([x for x in r['rounds'] if x['domain']=='burster' and x['round'] > 0 and x['commit']])" task 1 --all)
[ "$n" = "$BURST" ] || fail "$n rounds of the burst stored, not $BURST"
ok "every round of the burst stored once"
watchdog_ok
ok "no watchdog expiry (longest gap $(watchdog_gap) s of ${WATCHDOG_SEC} s)"
healthy_untouched good "$good_pid"
ok "the well-behaved child answered every ping: same pid $good_pid, no restart"
# The burst's WAL was copied back off the loop (checkpoint.c), and its
# file stayed bounded: without checkpoints it would hold every round.
log_has "registry: checkpoint: [0-9]* of [0-9]* WAL pages copied" ||
    fail "no checkpoint off the loop was made"
log_has "checkpoint off the loop failed" && fail "a checkpoint off the loop failed"
wal=$(stat -c %s "$T/state/masterd.db-wal")
[ "$wal" -lt $((64 << 20)) ] || fail "the WAL grew to $wal bytes"
ok "the WAL checkpointed off the loop: $((wal >> 20)) MiB at most"
sigterm_honoured
ok "SIGTERM honoured"
done_testing
