# Invariant: masterd raises its open-file limit to the hard limit at start
# (each domain costs it a socket and pipes, and systemd's soft default of
# 1,024 runs out near a thousand domains), its children inherit it, and
# the unit sets LimitNOFILE=.
. "$(dirname "$0")/lib.subr"

hard=$(ulimit -Hn)
soft=256
# Nothing to raise where the hard limit is no higher (said, not failed).
if [ "$hard" = unlimited ] || [ "$hard" -le "$soft" ]; then
	ok "nothing to show: the hard open-file limit here is $hard"
	exit 0
fi
# The shell's soft limit lowered; masterd inherits it.
ulimit -Sn "$soft"
# Not in a pipeline: the model server and its key belong to this shell.
stalling_model >"$T/llm.conf"
write_config <"$T/llm.conf"
start_masterd
limit() {	# PID: the soft limit of open files
	awk '/^Max open files/ { print $4 }' "/proc/$1/limits"
}
[ "$(limit "$MD_PID")" = "$hard" ] || fail "masterd's limit is $(limit "$MD_PID"), not the hard $hard"
log_has "open files: limit raised from $soft to $hard" || fail "the raise is not logged"
ctl submit "limits" --domains one >/dev/null || fail submit
wait_until "the child running" state_is one running
[ "$(limit "$(child_pid one)")" = "$hard" ] || fail "the child's limit is $(limit "$(child_pid one)")"
ok "masterd raised its open-file limit from $soft to $hard; its child has it too"
grep -q '^LimitNOFILE=' "$TOP/systemd/masterd.service" || fail "the unit sets no LimitNOFILE="
ok "the unit sets LimitNOFILE="
