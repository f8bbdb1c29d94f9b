# Invariant: `masterd -n` and the start check what a directive will need,
# each failure with its fix: the key (a key_file open to others, owned by
# another user, missing; a key_env unset; a systemd credential), the
# prompts, each prompt_file, masterd-child and the masterd-worker beside
# it.  -n exits 1 on any; a missing program or prompts directory stops
# masterd (78); a missing key does not: every task waits paused with the
# reason, resume is refused, and once the key is there the tasks go on.
. "$(dirname "$0")/lib.subr"
use_fakechild
printf 'sk-setup-%s\n' "$$" >"$T/key"
chmod 600 "$T/key"
conf() {	# the [llm] key line
	write_config <<CONF
[llm]
provider = chat
base_url = http://127.0.0.1:9/v1
model = m
context_tokens = 8000
$1
CONF
}
check() {	# what, then each expected line of the output
	what=$1
	shift
	"$MASTERD" -n -c "$T/masterd.conf" >"$T/out" 2>&1 && fail "$what: -n passed: $(cat "$T/out")"
	for want in "$@"; do
		grep -qF -- "$want" "$T/out" || fail "$what: no '$want' in: $(cat "$T/out")"
	done
	grep -q "setup error" "$T/out" || fail "$what: no summary: $(cat "$T/out")"
}

conf "key_file = $T/key"
"$MASTERD" -n -c "$T/masterd.conf" >"$T/out" 2>&1 || fail "good setup refused: $(cat "$T/out")"
grep -q "^ok: \[llm\] key (key_file $T/key;" "$T/out" || fail "key not checked: $(cat "$T/out")"
grep -q "^ok: prompts $TOP/prompts" "$T/out" || fail "prompts not checked: $(cat "$T/out")"
ok "a good setup passes -n, each item named"

chmod 644 "$T/key"
check "key 0644" "error: [llm] key (key_file $T/key;" "is open to group or others (mode 0644)" "fix: chmod 600 $T/key"
chmod 600 "$T/key"
if [ "$(id -u)" = 0 ]; then
	chown 65534 "$T/key"
	check "key of another user" "belongs to uid 65534, not to masterd's uid 0" "fix: chown it to the user masterd runs as"
	chown 0 "$T/key"
fi
conf "key_file = $T/nokey"
check "key missing" "key file $T/nokey: No such file or directory" "fix: write the key into it"
: >"$T/empty"; chmod 600 "$T/empty"
conf "key_file = $T/empty"
check "key empty" "key file $T/empty: it is empty"
conf "key_env = SETUP_TEST_NO_SUCH_KEY"
check "key_env unset" "environment variable SETUP_TEST_NO_SUCH_KEY, named by key_env, is not set" "fix: set it where masterd starts"
conf "key_credential = api"
( unset CREDENTIALS_DIRECTORY; "$MASTERD" -n -c "$T/masterd.conf" ) >"$T/out" 2>&1 ||
    fail "a credential outside systemd is an error: $(cat "$T/out")"
grep -q "^warning: \[llm\] key (key_credential api;.*not checked" "$T/out" || fail "credential: $(cat "$T/out")"
mkdir -p "$T/creds"
CREDENTIALS_DIRECTORY="$T/creds" check "credential missing" "credential api: No such file or directory" "fix: LoadCredential=api:"
ok "keys: a file open to others, another user's, missing or empty, an unset variable, a credential"

# The fallbacks and roles are checked too.
write_config <<CONF
[llm]
provider = chat
base_url = http://127.0.0.1:9/v1
model = m
context_tokens = 8000
key_file = $T/key
fallback = spare
[llm "spare"]
key_file = $T/spare.key
[planner]
key_env = SETUP_TEST_PLANNER_KEY
CONF
check "roles" "error: [llm \"spare\"] key (key_file $T/spare.key;" "error: [planner] key (key_env SETUP_TEST_PLANNER_KEY;"
ok "fallbacks and roles checked"

conf "key_file = $T/key"
sed -i "s|^prompts_dir = .*|prompts_dir = $T/noprompts|" "$T/masterd.conf"
check "prompts" "error: prompts $T/noprompts: cannot read $T/noprompts/domain.md" "fix: copy the prompts/ of the source tree there"
"$MASTERD" -f -c "$T/masterd.conf" >"$T/start.out" 2>&1
[ $? = 78 ] || fail "started without prompts: $(cat "$T/start.out")"
grep -q "not starting: every domain would fail" "$T/start.out" || fail "start: $(cat "$T/start.out")"
[ -e "$MASTERD_SOCKET" ] && fail "socket created without prompts"
ok "missing prompts: -n fails, masterd does not start (78)"

write_config <<CONF
[domain "web"]
prompt_file = nope.md
CONF
check "prompt_file" "error: [domain \"web\"] prompt_file $TOP/prompts/nope.md: No such file or directory"
ok "a missing prompt_file fails -n"

CHILD_PATH="$T/no-such-child" write_config </dev/null
check "child" "error: masterd-child $T/no-such-child: No such file or directory" "fix: fix [masterd] child_path"
"$MASTERD" -f -c "$T/masterd.conf" >"$T/start.out" 2>&1
[ $? = 78 ] || fail "started without its child: $(cat "$T/start.out")"
mkdir -p "$T/bin"
cp "$BUILD/masterd-child" "$T/bin/masterd-child"
CHILD_PATH="$T/bin/masterd-child" write_config </dev/null
check "worker" "error: masterd-worker $T/bin/masterd-worker: No such file or directory" "fix: install masterd-worker beside masterd-child"
ok "a missing masterd-child or masterd-worker: -n fails, masterd does not start"

# A missing key at the start: the task waits paused, saying why.
conf "key_file = $T/later.key"
start_masterd
log_has "setup: \[llm\] key (key_file $T/later.key" || fail "no setup error logged"
ctl submit "waits for its key" --domains alpha >/dev/null || fail submit
wait_until "alpha running" state_is alpha running
reason=$(json_get "r['task']['reason']" task 1)
case "$reason" in "setup: [llm] key (key_file $T/later.key;"*"No such file or directory; fix: write the key into it"*) ;;
*) fail "task 1 not paused for its key: $reason" ;; esac
[ "$(json_get "r['task']['paused']" task 1)" = True ] || fail "task 1 not paused"
[ "$(json_get "r['setup_problem']" status)" = "$reason" ] || fail "status: $(json_get "r['setup_problem']" status)"
grep -q '"type": "directive"' "$FAKECHILD_DIR/alpha.log" 2>/dev/null && fail "work handed out without a key"
ctl resume 1 >"$T/out" 2>&1 && fail "resume accepted without the key"
grep -q "cannot resume: setup:" "$T/out" || fail "resume: $(cat "$T/out")"
[ "$(json_get "r['task']['state']" task 1)" = building ] || fail "task state changed"
ok "a missing key pauses the task with the reason and the fix: $reason"

install -m 600 "$T/key" "$T/later.key"
wait_until "task 1 resumed once the key is there" sh -c "[ \"\$($MASTERCTL --json task 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"task\"][\"paused\"])')\" = False ]"
wait_until "alpha's directive handed out" grep -q '"type": "directive"' "$FAKECHILD_DIR/alpha.log"
log_has "task 1 resumed: the setup problem is fixed" || fail "resume not logged"
[ "$(json_get "r['setup_problem']" status)" = None ] || fail "status keeps the problem"
ok "with the key in place the task goes on by itself"

"$MASTERD" --version | grep -q "^masterd [0-9.]* (protocol 1)" || fail "--version"
"$MASTERD" --help | grep -q "^usage: masterd" || fail "--help"
"$MASTERD" --help | grep -q -- "--check" || fail "--help lists the long options"
"$MASTERD" --bogus >/dev/null 2>&1; [ $? = 2 ] || fail "unknown long option"
ok "--help, --version"
