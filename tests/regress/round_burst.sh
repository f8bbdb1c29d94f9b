# Invariant: a burst of rounds from one child costs masterd time in
# proportion to the burst, taken a slice per loop turn: while 3,000 rounds
# of one directive arrive at once, the watchdog is fed, masterctl is
# answered, the well-behaved sibling keeps answering pings (same pid, no
# restart), every round is stored once, and SIGTERM stops masterd.  Before
# (issue #14) each round re-read every stored round and the task's whole
# scoreboard: 1,000 rounds held the loop 44 s, at 3,000 healthy children
# were killed for missing pongs and SIGTERM went unheard.
. "$(dirname "$0")/lib.subr"
. "$REGRESS_DIR/loop.subr"
BURST=${REGRESS_BURST:-3000}
use_hostchild
echo '{"hold": true}' >"$FAKECHILD_DIR/good.json"
echo '{}' >"$FAKECHILD_DIR/burster.json"
start_notify
write_config </dev/null
start_watched_masterd
ctl submit "round burst" --domains good,burster >/dev/null || fail submit
wait_until "good's directive running" sh -c \
    "$MASTERCTL --json task 1 | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(not any(d[\"domain\"]==\"good\" and d[\"state\"]==\"running\" for d in r[\"directives\"]))'"
wait_until "burster's first directive" directive_done 1 burster Build
good_pid=$(child_pid good)
burster_pid=$(child_pid burster)

echo "{\"rounds\": $BURST}" >"$FAKECHILD_DIR/burster.json"
ctl directive burster "burst of rounds" >/dev/null || fail "directive burster"
# Through the burst: masterctl answers every time it asks.
burst_over() {
	status_or_note || directive_done 1 burster "burst of rounds"
}
wait_until "the burst to be taken in" burst_over
status_failures
n=$(json_get "len([x for x in r['rounds'] if x['domain']=='burster' and x['round'] > 0 and x['commit']])" task 1 --all)
[ "$n" = "$BURST" ] || fail "$n rounds of the burst stored, not $BURST"
ok "a burst of $BURST rounds taken in; every round stored once"
watchdog_ok
ok "the watchdog was fed throughout (longest gap $(watchdog_gap) s of ${WATCHDOG_SEC} s)"
healthy_untouched good "$good_pid"
ok "the well-behaved child answered every ping: same pid $good_pid, no restart"
[ "$(child_pid burster)" = "$burster_pid" ] || ok "(the bursting child was replaced: its pongs queued behind its burst)"
sigterm_honoured
ok "SIGTERM honoured after the burst"
done_testing
