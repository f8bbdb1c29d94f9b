# Invariant: pause survives a restart, even after kill -9: the restarted
# master hands out nothing until resume, then the held work goes out.
. "$(dirname "$0")/lib.subr"
use_fakechild
write_config </dev/null
start_masterd
ctl submit "paused across restarts" --domains alpha >/dev/null || fail submit
wait_until "alpha running" state_is alpha running
ctl pause 1 >/dev/null || fail pause
ctl directive alpha "held while paused" >/dev/null || fail directive
kill -KILL "$MD_PID"
wait_until "masterd gone" sh -c "! kill -0 $MD_PID"
: >"$FAKECHILD_DIR/alpha.log"
start_masterd
wait_until "alpha back" state_is alpha running
[ "$(json_get "r['task']['paused']" task 1)" = True ] || fail "pause lost in the restart"
grep -q "held while paused" "$FAKECHILD_DIR/alpha.log" && fail "work handed out while paused"
ctl resume 1 >/dev/null || fail resume
wait_until "the held directive handed out" grep -q "held while paused" "$FAKECHILD_DIR/alpha.log"
ok "pause survives kill -9; resume releases the work"
