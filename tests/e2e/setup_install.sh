# Invariant: `make install PREFIX=/usr` after a plain `make` installs
# binaries built for /usr (the objects that compile the paths in are
# rebuilt), and an installed tree finds its own pieces from where it runs
# (a DESTDIR tree, here): masterd finds masterd-child, the sandbox probe
# and the relay masterd-worker, the worker its prompts, and a task's
# domain does its work through the test LLM server.
. "$(dirname "$0")/lib.subr"
B="$T/build"
# A plain build of its own, whatever make (and its flags) runs the suite.
unset MAKEFLAGS MFLAGS MAKELEVEL
( cd "$TOP" && nice make -j2 BUILD="$B" all ) >"$T/make.log" 2>&1 ||
    fail "make: $(tail -n 5 "$T/make.log")"
( cd "$TOP" && nice make -j2 BUILD="$B" install PREFIX=/usr DESTDIR="$T/root" ) \
    >"$T/install.log" 2>&1 || fail "make install: $(tail -n 5 "$T/install.log")"
grep -q -- "-o $B/obj/daemon/masterd/main.o" "$T/install.log" ||
    fail "install did not rebuild for /usr: $(head -n 5 "$T/install.log")"
R="$T/root/usr"
for f in sbin/masterd bin/masterctl libexec/masterd/masterd-child \
    libexec/masterd/masterd-worker share/masterd/prompts/domain.md; do
	[ -e "$R/$f" ] || fail "not installed: $f"
done
for f in sbin/masterd libexec/masterd/masterd-worker; do
	grep -q "/usr/local/libexec\|/usr/local/share/masterd" "$R/$f" &&
	    fail "$f still points at /usr/local"
	grep -q "/usr/libexec" "$R/$f" || fail "$f not built for /usr"
done
ok "make install PREFIX=/usr rebuilt the paths in"

export LLMD_TEST_KEY="sk-llmd-install-$$"
answer_script "$T/script.json" "a"
start_llmd "$T/script.json"
# No child_path, no prompts_dir: what the installed tree finds itself.
cat >"$T/masterd.conf" <<CONF
[masterd]
state_dir = $T/state
control_socket = $MASTERD_SOCKET
log_level = debug
$(python_tree)
[task]
max_reviews = 0
$(llm_config)
CONF
"$R/sbin/masterd" -n -c "$T/masterd.conf" >"$T/out" 2>&1 || fail "-n: $(cat "$T/out")"
for want in "ok: masterd-child $R/libexec/masterd/masterd-child" \
    "ok: masterd-worker $R/libexec/masterd/masterd-worker" \
    "ok: prompts $R/share/masterd/prompts"; do
	grep -qF "$want" "$T/out" || fail "-n: no '$want' in $(cat "$T/out")"
done
ok "masterd -n names the installed tree's pieces"

MASTERD="$R/sbin/masterd" start_masterd
log_has "child $R/libexec/masterd/masterd-child" || fail "masterd's child is not the installed one"
ctl submit "installed" --domains a >/dev/null || fail submit
wait_until "a's directive done" sh -c "$MASTERCTL --json task 1 | grep -q '\"done\"'"
[ "$(requests_matching '"# Your domain: a" in text')" -ge 1 ] || fail "the worker never asked the model"
state_is a running || fail "domain a is not running"
ok "the installed masterd runs a domain's work from its own tree"
