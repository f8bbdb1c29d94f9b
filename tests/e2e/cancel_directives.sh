# Invariant: a task that ends before its work is done (cancelled, failed)
# leaves no directive "queued" or "running": they are dropped with the
# reason, and `status` counts no open directive for it; those an older
# masterd left open are dropped at the next start.
. "$(dirname "$0")/lib.subr"
use_fakechild
# alpha takes its directive and never answers: the others stay queued.
echo '{"hold": true}' >"$FAKECHILD_DIR/alpha.json"
write_config </dev/null
start_masterd
ctl submit "to cancel" --domains alpha,beta >/dev/null || fail submit
for text in two three four; do
	ctl directive alpha "$text" --task 1 >/dev/null || fail "directive $text"
done
open_count() {
	json_get "r['registry']['directives_open']" status
}
wait_until "alpha's directive running" sh -c "$MASTERCTL --json task 1 | grep -q '\"running\"'"
[ "$(open_count)" -ge 4 ] || fail "open before the cancel: $(open_count)"
ctl cancel 1 >/dev/null || fail cancel
[ "$(open_count)" = 0 ] || fail "open after the cancel: $(open_count)"
states=$(json_get "sorted(set((x['state'], x['reason']) for x in r['directives'] if x['domain']=='alpha'))" task 1)
[ "$states" = "[('dropped', 'the task was cancelled')]" ] || fail "alpha's directives: $states"
ok "a cancelled task's directives are dropped: $states"

# One left queued by a masterd before this fix: dropped at the start.
ctl stop >/dev/null
wait_until "masterd exit" sh -c "! kill -0 $MD_PID"
python3 - "$T/state/masterd.db" <<'PY' || fail "registry edit"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE directives SET state = 'queued' WHERE id = (SELECT max(id) FROM directives)")
db.commit()
PY
start_masterd
[ "$(open_count)" = 0 ] || fail "open after a restart: $(open_count)"
ok "one left queued before is dropped at the start"
