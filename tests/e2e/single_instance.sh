# Invariant: a second masterd on the same state directory or the same
# socket refuses to start, says why, and leaves the running daemon and its
# socket untouched.
. "$(dirname "$0")/lib.subr"
write_config </dev/null
start_masterd

"$MASTERD" -f -c "$T/masterd.conf" >"$T/second.log" 2>&1 && fail "second masterd started"
grep -q "is in use by another masterd (pid $MD_PID)" "$T/second.log" || \
    fail "same state dir: $(cat "$T/second.log")"
[ -S "$MASTERD_SOCKET" ] || fail "the second masterd removed the socket"
ctl status >/dev/null || fail "first masterd not answering"
ok "same state directory refused"

"$MASTERD" -f -c "$T/masterd.conf" -d "$T/other" >"$T/third.log" 2>&1 && fail "third masterd started"
grep -q "another masterd is listening on $MASTERD_SOCKET" "$T/third.log" || \
    fail "same socket: $(cat "$T/third.log")"
[ -S "$MASTERD_SOCKET" ] || fail "the third masterd removed the socket"
ctl status >/dev/null || fail "first masterd not answering"
ok "same socket refused"

# A stale socket file (no daemon behind it) is replaced.
kill -KILL "$MD_PID"
wait_until "masterd gone" sh -c "! kill -0 $MD_PID"
[ -S "$MASTERD_SOCKET" ] || fail "expected a stale socket after SIGKILL"
start_masterd
ok "a stale socket is replaced"
