# Invariant: `masterd -n` validates a configuration without starting
# anything: a good file passes, a bad one fails with every error named by
# file, line and key; a bad file also stops masterd from starting.
. "$(dirname "$0")/lib.subr"
write_config <<'CONF'
[domain "frontend"]
check = npm test
check = npm run lint
depends = database, logic
CONF
"$MASTERD" -n -c "$T/masterd.conf" >"$T/out" 2>&1 || fail "good config refused: $(cat "$T/out")"
grep -q "is valid (1 domains)" "$T/out" || fail "check output: $(cat "$T/out")"
[ -e "$T/state" ] && fail "-n created the state directory"
ok "a good file passes -n"

cat >"$T/bad.conf" <<'CONF'
[masterd]
max_frame = lots
colour = blue
[supervise]
ping_interval = 10s
ping_timeout = 5s
[domain "Front End"]
CONF
"$MASTERD" -n -c "$T/bad.conf" >"$T/out" 2>&1 && fail "bad config accepted"
for want in "bad.conf:2: \[masterd\] max_frame: expected a size" \
    "bad.conf:3: unknown key 'colour' in \[masterd\]" \
    "ping_timeout (5000 ms) must be longer than ping_interval" \
    "bad.conf:7: \[domain \"NAME\"\] needs a name"; do
	grep -q "$want" "$T/out" || fail "missing error: $want; got: $(cat "$T/out")"
done
ok "a bad file fails -n with every error named"

MASTERD_SUPERVISE_PING_TIMEOUT=soon "$MASTERD" -n -c "$T/masterd.conf" \
    >"$T/out" 2>&1 && fail "bad environment override accepted"
grep -q "environment MASTERD_SUPERVISE_PING_TIMEOUT" "$T/out" || fail "env error: $(cat "$T/out")"
ok "environment overrides are validated too"

"$MASTERD" -f -c "$T/bad.conf" >"$T/out" 2>&1 && fail "masterd started with a bad file"
[ -e "$MASTERD_SOCKET" ] && fail "socket created despite a bad file"
ok "masterd refuses to start on a bad file"

"$MASTERD" -x >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad flag should exit 2"
"$MASTERD" -V | grep -q "masterd .* (protocol 1)" || fail "-V"
ok "flags"
