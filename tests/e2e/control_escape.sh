# Invariant: text from masterd never reaches the user's terminal as raw
# control sequences.  masterctl's human output (stdout, and stderr where
# masterd's errors go) shows C0 controls but newline and tab, DEL and the
# C1 controls as visible escapes, on a terminal (tested on a pty) and in
# a pipe; --json output stays JSON.
. "$(dirname "$0")/lib.subr"
use_fakechild
write_config </dev/null
start_masterd

EVIL=$(printf 'pay\033]52;c;cm0gLXJmIH4=\007slips \033[2J\302\233\061m\177 done')
ctl submit "$EVIL" --domains frontend >/dev/null || fail "submit"

PYTHONPATH="$TOP/tests/e2e" python3 - "$MASTERCTL" <<'PY' || fail "escaping"
import os, pty, subprocess, sys
masterctl = sys.argv[1]

def on_pty(*args):
    """masterctl's stdout and stderr on a terminal."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(masterctl, [masterctl, *args])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    return out, os.waitstatus_to_exitcode(status)

def clean(what, out):
    for bad in (b"\x1b", b"\x07", b"\x7f", "\u009b".encode()):
        assert bad not in out, f"{what}: raw {bad!r} in {out!r}"

out, rc = on_pty("tasks")
assert rc == 0, out
clean("tasks on a pty", out)
assert b"pay\\x1b]52;c;cm0gLXJmIH4=\\x07slips \\x1b[2J\\u009b1m\\x7f" in out, out
print("ok: tasks on a terminal:", out.decode().splitlines()[-1].strip())

out, rc = on_pty("task", "1")
assert rc == 0, out
clean("task on a pty", out)
assert b"\\x1b[2J" in out, out

# masterd's error messages quote what they were given: stderr too.
out, rc = on_pty("directive", "--task", "1", "no\x1b[31mpe", "x")
assert rc == 1, (rc, out)
clean("an error on a pty", out)
assert b"no\\x1b[31mpe" in out, out
print("ok: an error on a terminal:", out.decode().strip())

# In a pipe: the same for human output; --json as JSON.
r = subprocess.run([masterctl, "tasks"], capture_output=True)
clean("tasks in a pipe", r.stdout)
r = subprocess.run([masterctl, "--json", "tasks"], capture_output=True)
assert b"\\u001b]52" in r.stdout.lower(), r.stdout
print("ok: in a pipe, human output escaped, --json as JSON")
PY
ok "control characters from masterd are escaped"
