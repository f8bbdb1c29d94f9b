# Invariant: every control request works end to end through the real socket
# and masterctl, with the exit codes masterctl documents; a refused request
# changes nothing.
. "$(dirname "$0")/lib.subr"
use_fakechild
write_config </dev/null
start_masterd

ctl status >/dev/null || fail "status"

# Usage and unreachable exit codes.
ctl bogus 2>/dev/null; [ $? -eq 2 ] || fail "unknown command should exit 2"
MASTERD_SOCKET="$T/nowhere.sock" ctl status 2>"$T/err"; rc=$?
[ $rc -eq 3 ] || fail "unreachable daemon should exit 3, got $rc"
grep -q "is masterd running" "$T/err" || fail "unreachable hint missing"
ok "exit codes 2 and 3"

# Refused requests change nothing.
ctl submit "" --domains a 2>/dev/null && fail "empty task accepted"
ctl submit "x" --domains "Bad Name" 2>/dev/null && fail "bad domain accepted"
[ "$(json_get "len(r['tasks'])" tasks)" = 0 ] || fail "a refused submit stored a task"
ok "refused submits store nothing"

# Submit: three children start and publish interfaces.
ctl submit "Implement an app to manage employee payslips" \
    --domains frontend,database,logic >"$T/out" || fail "submit"
grep -q "task 1 submitted" "$T/out" || fail "submit output"
wait_until "three running children" all_running 3
wait_until "three interfaces" sh -c \
    "[ \"\$($MASTERCTL --json interfaces | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"interfaces\"]))')\" = 3 ]"
ctl interfaces | grep -q "database v1" || fail "interfaces output"
ctl interface frontend | grep -q "frontend.ping" || fail "interface output"
ctl interface frontend 7 2>/dev/null; [ $? -eq 1 ] || fail "missing version should exit 1"
ok "submit starts children; interfaces stored"

# Peers: each child received the interfaces of the other two, in its
# task.assign or in interface.peers, whichever came after their publish.
peers_seen() {
	python3 - "$FAKECHILD_DIR/$1.log" <<'PY'
import json, sys
seen = set()
for line in open(sys.argv[1]):
    m = json.loads(line)
    for p in m.get("peers", []):
        seen.add(p["domain"])
print(" ".join(sorted(seen)))
PY
}
peers_are() {
	[ "$(peers_seen "$1")" = "$2" ]
}
for d in frontend database logic; do
	want=$(echo frontend database logic | tr ' ' '\n' | grep -vx "$d" | sort | tr '\n' ' ' | sed 's/ $//')
	wait_until "$d to hold its peers' interfaces" peers_are "$d" "$want"
done
ok "every child got its peers' interfaces"

# Directives: a new version through a directive, dedup while open.
ctl directive logic "publish:payslip.compute" >/dev/null || fail "directive"
wait_until "logic v2" sh -c "$MASTERCTL interface logic 2 | grep -q payslip.compute"
ok "directive dispatched; new interface version"

# pause: work is held; resume releases it.
ctl pause 1 >/dev/null || fail "pause"
[ "$(json_get "r['task']['paused']" task 1)" = True ] || fail "paused flag"
ctl directive database "add an index" >/dev/null
ctl directive database "add an index" | grep -q merged || fail "duplicate not merged"
[ "$(json_get "sum(1 for d in r['directives'] if d['text']=='add an index')" task 1)" = 1 ] \
    || fail "duplicate directive stored twice"
grep -q '"add an index"' "$FAKECHILD_DIR/database.log" && fail "dispatched while paused"
ctl resume 1 >/dev/null || fail "resume"
wait_until "directive done after resume" sh -c \
    "$MASTERCTL --json task 1 | grep -q '\"state\": \"done\"'"
grep -q '"add an index"' "$FAKECHILD_DIR/database.log" || fail "not dispatched after resume"
ok "pause holds work, resume releases it, duplicates merge"

# watch streams events.
ctl --verbose watch 1 >"$T/watch" 2>&1 &
WATCH=$!
wait_until "watch to subscribe" sh -c "[ \$($MASTERCTL --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"clients\"])') -ge 2 ]"
ctl directive frontend "publish:ui.login" >/dev/null
wait_until "interface event on the watch stream" grep -q "interface.published" "$T/watch"
ok "watch"

# cancel stops the task's children.
ctl cancel 1 >/dev/null || fail "cancel"
[ "$(json_get "r['task']['state']" task 1)" = cancelled ] || fail "cancelled state"
wait_until "children gone" sh -c "[ \$($MASTERCTL --json status | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"children\"]))') = 0 ]"
ctl cancel 1 2>/dev/null; [ $? -eq 1 ] || fail "second cancel should be refused"
ok "cancel"

# stop: the daemon exits and removes its socket; watch ends.
ctl stop >/dev/null || fail "stop"
wait_until "masterd to exit" sh -c "! kill -0 $MD_PID"
[ -e "$MASTERD_SOCKET" ] && fail "socket left behind"
wait_until "watch to end" sh -c "! kill -0 $WATCH"
ok "stop"
