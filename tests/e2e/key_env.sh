# Invariant: an API key pasted into key_env (where the name of a variable
# belongs) is refused by `masterd -n` and at start, and the error never
# shows it: not on the terminal, not in the log, not in the state.
. "$(dirname "$0")/lib.subr"
KEY="sk-proj-e2eKeyNotAName0123456789abcdefABCDEF$$"
for where in "[llm]" '[domain "web"]'; do
	write_config <<CONF
$where
key_env = $KEY
CONF
	"$MASTERD" -n -c "$T/masterd.conf" >"$T/out" 2>&1 && fail "$where: -n accepted a key in key_env"
	grep -qF "$where key_env must name an environment variable, not hold a key" "$T/out" ||
	    fail "$where: missing error; got: $(cat "$T/out")"
	"$MASTERD" -f -c "$T/masterd.conf" >>"$T/masterd.log" 2>&1 && fail "$where: masterd started"
	grep -rqF "$KEY" "$T/out" "$T/masterd.log" && fail "$where: the key was echoed"
	if [ -d "$T/state" ] && grep -rqF "$KEY" "$T/state"; then
		fail "$where: the key was stored"
	fi
done
ok "a key in key_env is refused and never echoed"
