# Invariant: nobody else can stand in for masterd on its socket.  masterd
# refuses to bind in a directory others can write (world-writable like
# /tmp, group-writable without being the control group), saying why;
# masterctl talks only to a server run by root, by its own user or by a
# member of $MASTERD_CONTROL_GROUP, and refuses any other with a clear
# message before sending a byte (the other-user half needs root).
. "$(dirname "$0")/lib.subr"

# 1. A world-writable (sticky, like /tmp) or a foreign group-writable
# directory is refused; masterd does not start.
for mode in 1777 0770; do
	d="$T/dir$mode"
	mkdir "$d" && chmod "$mode" "$d"
	write_config </dev/null
	"$MASTERD" -f -c "$T/masterd.conf" -s "$d/control.sock" \
	    >"$T/refused.log" 2>&1 &
	MD_PID=$!
	until ! kill -0 "$MD_PID" 2>/dev/null || [ -S "$d/control.sock" ]; do
		sleep 0.05
	done
	[ ! -S "$d/control.sock" ] || fail "socket created in a $mode directory"
	wait "$MD_PID"; rc=$?
	[ $rc -ne 0 ] || fail "masterd ran with its socket in a $mode directory"
	grep -q "refusing to put the socket in $d: writable by" "$T/refused.log" ||
	    fail "refusal unclear: $(cat "$T/refused.log")"
	ok "a $mode directory refused: $(grep -o 'refusing.*' "$T/refused.log" | head -1)"
done

# 2. A socket directory masterd makes itself is its own and 0700.
export MASTERD_SOCKET="$T/own/control.sock"
write_config </dev/null
start_masterd
[ "$(stat -c %a "$T/own")" = 700 ] || fail "socket directory is $(stat -c %a "$T/own")"
ctl status >/dev/null || fail "masterctl to its own user's masterd"
ok "a directory masterd makes is 0700; masterctl trusts its own user's server"

# 3. A stranger's listener at the path masterctl uses gets no request.
if [ "$(id -u)" -ne 0 ]; then
	echo "skip: a listener run by another user needs root"
	exit 0
fi
chmod 0755 "$T"
mkdir "$T/spoof" && chown nobody "$T/spoof"
python3 - "$T/spoof/control.sock" "$T/spoof/captured" <<'PY' &
import os, socket, sys, pwd
path, captured = sys.argv[1], sys.argv[2]
nobody = pwd.getpwnam("nobody")
os.setgid(nobody.pw_gid)
os.setuid(nobody.pw_uid)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(8)
s.settimeout(60)
got = b""
try:
    for _ in range(2):
        c, _ = s.accept()
        c.settimeout(5)
        try:
            data = c.recv(65536)
        except socket.timeout:
            data = b""
        got += data
        if data:
            c.sendall(b'\x00\x00\x00\x17{"re": 1, "ok": true}  ')
        c.close()
finally:
    with open(captured + ".tmp", "wb") as f:
        f.write(got)
    os.rename(captured + ".tmp", captured)
PY
SPOOF_PID=$!
wait_until "the stranger's socket" test -S "$T/spoof/control.sock"
MASTERD_SOCKET="$T/spoof/control.sock" ctl submit "a secret plan" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] || fail "masterctl exit $rc talking to a stranger"
grep -q "refusing to talk to the server at $T/spoof/control.sock (pid [0-9]*, uid 65534)" "$T/err" ||
    fail "refusal unclear: $(cat "$T/err")"
ok "masterctl refuses a stranger's server: $(cat "$T/err")"
# The control group vouches for its members: the same server is trusted.
MASTERD_CONTROL_GROUP=$(id -gn nobody) MASTERD_SOCKET="$T/spoof/control.sock" \
    ctl status >/dev/null 2>&1
wait_until "the stranger's report" test -f "$T/spoof/captured"
wait "$SPOOF_PID"
grep -q "a secret plan" "$T/spoof/captured" && fail "the stranger captured the submit"
grep -q '"status"' "$T/spoof/captured" || fail "a server of the control group was not trusted"
ok "the stranger saw no submit; a server in MASTERD_CONTROL_GROUP is trusted"
