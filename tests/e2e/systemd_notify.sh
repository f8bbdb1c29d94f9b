# Invariant: masterd speaks systemd's protocols itself: READY=1 once the
# socket and registry are up, STATUS= with the tasks running, a
# per-state domain count, those working, tokens, cost and providers down,
# WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1/READY=1 around SIGHUP
# (a broken configuration is refused and the old one kept), STOPPING=1, and
# a control socket passed with LISTEN_FDS is used as is.
. "$(dirname "$0")/lib.subr"

# A notification socket that records every datagram, one per line.
python3 - "$T/notify.sock" "$T/notify.log" <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1)
parent, end = os.getppid(), time.time() + 300
with open(sys.argv[2], "a", buffering=1) as out:
    while time.time() < end and os.getppid() == parent:
        try:
            out.write(s.recv(4096).decode().replace("\n", "|") + "\n")
        except socket.timeout:
            pass
PY
LISTENER=$!
wait_until "notify socket" test -S "$T/notify.sock"

stalling_model >"$T/llm.conf"
write_config <"$T/llm.conf"
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=400000 start_masterd
wait_until "READY=1" grep -q "READY=1" "$T/notify.log"
ctl submit "notify test" --domains one >/dev/null || fail submit
wait_until "STATUS with a running domain" grep -q "STATUS=1 task running; 1 domains, 1 running, [0-9]* working; [0-9]* tokens, cost [0-9.]*; 0 providers down" "$T/notify.log"
# Refreshed at housekeeping: the domain's work in hand shows.
wait_until "STATUS with the domain working" grep -q "STATUS=1 task running; .*, 1 working;" "$T/notify.log"
wait_until "two watchdog pings" sh -c "[ \$(grep -c WATCHDOG=1 '$T/notify.log') -ge 2 ]"
ok "READY, STATUS and WATCHDOG sent"

# SIGHUP with a broken file: refused, old configuration kept.
cp "$T/masterd.conf" "$T/good.conf"
printf '[supervise]\nping_interval = soon\n' >>"$T/masterd.conf"
kill -HUP "$MD_PID"
wait_until "reload refused" log_has "reload refused: keeping the running configuration"
log_has "ping_interval: expected a duration" || fail "reload error does not name the key"
ctl status >/dev/null || fail "not answering after a refused reload"
state_is one running || fail "child disturbed by a refused reload"
# A good file: reloaded.
sed 's/log_level = debug/log_level = info/' "$T/good.conf" >"$T/masterd.conf"
kill -HUP "$MD_PID"
wait_until "reload done" log_has "configuration reloaded"
grep -q "RELOADING=1" "$T/notify.log" || fail "no RELOADING=1"
ok "SIGHUP: a broken file is refused, a good one is taken"

kill -TERM "$MD_PID"
wait_until "masterd exit" sh -c "! kill -0 $MD_PID"
grep -q "STOPPING=1" "$T/notify.log" || fail "no STOPPING=1"
ok "STOPPING sent"

# Socket activation: the listening socket arrives as fd 3.
rm -f "$MASTERD_SOCKET"
python3 - "$MASTERD_SOCKET" "$MASTERD" "$T/masterd.conf" "$T/masterd.log" <<'PY' &
import os, socket, sys
path, masterd, conf, log = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(16)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
fd = os.open(log, os.O_WRONLY | os.O_APPEND)
os.dup2(fd, 2)
os.execve(masterd, [masterd, "-f", "-c", conf], env)
PY
MD_PID=$!
wait_until "masterd on the passed socket" ctl status
log_has "control: using the socket passed by systemd" || fail "LISTEN_FDS not used"
ctl stop >/dev/null
wait_until "masterd exit" sh -c "! kill -0 $MD_PID"
[ -S "$MASTERD_SOCKET" ] || fail "masterd removed a socket it does not own"
ok "socket activation"
kill "$LISTENER" 2>/dev/null
