# Invariant: the control socket is born 0600; even when its mode is opened
# up, a peer that is neither masterd's user, root, nor in the configured
# control group is refused by its credentials (SO_PEERCRED) with a clear
# error; a member of the control group is let in.
. "$(dirname "$0")/lib.subr"
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	echo "skip: needs root and setpriv to act as another user"
	exit 0
fi
chmod 0755 "$T"
write_config </dev/null
start_masterd
mode=$(stat -c %a "$MASTERD_SOCKET")
[ "$mode" = 600 ] || fail "socket mode $mode, want 600"
ok "socket is 0600"

as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}
as_nobody "$MASTERCTL" status 2>"$T/err"; rc=$?
[ $rc -eq 3 ] || fail "nobody reached a 0600 socket (exit $rc)"
chmod 0666 "$MASTERD_SOCKET"
as_nobody "$MASTERCTL" status 2>"$T/err"; rc=$?
[ $rc -eq 1 ] || fail "nobody was not refused by credentials (exit $rc)"
grep -q "permission denied" "$T/err" || fail "refusal unclear: $(cat "$T/err")"
log_has "refused pid .* uid 65534" || fail "refusal not logged"
ok "a stranger is refused by its credentials: $(cat "$T/err")"

# The control group lets its members in (0660 + group), after a reload.
kill -TERM "$MD_PID"
wait_until "masterd exit" sh -c "! kill -0 $MD_PID"
sed -i 's/^\[masterd\]$/[masterd]\ncontrol_group = nogroup/' "$T/masterd.conf"
start_masterd
[ "$(stat -c '%a %G' "$MASTERD_SOCKET")" = "660 nogroup" ] || \
    fail "socket not 0660 nogroup: $(stat -c '%a %G' "$MASTERD_SOCKET")"
setpriv --reuid=nobody --regid=nogroup --init-groups "$MASTERCTL" status \
    >/dev/null || fail "a control group member was refused"
ok "a member of the control group is let in"
