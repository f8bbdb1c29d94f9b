#!/bin/sh
# Benchmark: how long masterd's loop goes without a turn while one child
# sends a burst of rounds (issue #14), and how long the burst takes.  For
# each burst size, a fresh masterd with a 200 ms systemd watchdog (a
# WATCHDOG=1 every 100 ms when the loop turns) and a stand-in child
# (tests/regress/hostchild.py) that sends N rounds of its directive at
# once.  The longest gap between two WATCHDOG=1, less the 100 ms period,
# is the longest stall.  The rounds' "created" times in the registry give
# masterd's cost per round over the first and the last 1,000 rounds of the
# burst, and masterd's CPU time (utime + stime) over the whole burst per
# round: flat if what it does per round does not grow with the rounds the
# task has (issue #16).  The wall time per round is mostly the synced
# commit of each round, so it moves with the disk.  Prints a table;
# asserts nothing.
set -u
SIZES=${LOOP_BENCH_SIZES:-"500 1000 3000 10000"}
. "$(cd "$(dirname "$0")/.." && pwd)/regress/lib.subr"
. "$REGRESS_DIR/loop.subr"
WATCHDOG_SEC=0.2
use_hostchild
start_notify
# ms per round over the burst's rounds FROM..TO (by their order).
per_round() {	# from to
	sqlite3 "$T/state/masterd.db" "SELECT printf('%.3f', (max(created) - min(created)) * 1000.0 / (count(*) - 1)) FROM (SELECT created FROM rounds WHERE summary LIKE 'burst round %' ORDER BY id LIMIT $(($2 - $1 + 1)) OFFSET $(($1 - 1)));"
}
burst_done() {
	[ "$(sqlite3 "$T/state/masterd.db" "SELECT state FROM directives WHERE text = 'burst';" 2>/dev/null)" = done ]
}
# masterd's CPU time so far, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$MD_PID/stat"
}
TICK=$(getconf CLK_TCK)
printf '%8s  %10s  %12s  %16s  %16s  %14s\n' "rounds" "taken in s" \
    "longest stall" "ms/round 1st 1k" "ms/round last 1k" "CPU ms/round"
for n in $SIZES; do
	rm -rf "$T/state"
	: >"$T/notify.log"
	echo '{}' >"$FAKECHILD_DIR/burster.json"
	write_config </dev/null
	sed -i 's/^log_level = debug$/log_level = warning/' "$T/masterd.conf"
	NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=200000 start_masterd
	ctl submit "bench" --domains burster >/dev/null || fail submit
	wait_until "the first directive" directive_done 1 burster Build
	echo "{\"rounds\": $n}" >"$FAKECHILD_DIR/burster.json"
	watchdog_mark
	t0=$(date +%s.%N)
	c0=$(cpu_ticks)
	ctl directive burster "burst" >/dev/null || fail directive
	# Read from the registry, not through `masterctl task`, whose reply
	# holds every round of the task: asked in a loop it would be the
	# cost measured.
	DEADLINE=600 wait_until "the burst" burst_done
	t1=$(date +%s.%N)
	c1=$(cpu_ticks)
	gap=$(watchdog_gap)
	first=$(per_round 1 $((n < 1000 ? n : 1000)))
	last=$(per_round $((n > 1000 ? n - 999 : 1)) "$n")
	printf '%8s  %10.2f  %9.0f ms  %16s  %16s  %14.3f\n' "$n" \
	    "$(echo "$t1 - $t0" | bc)" "$(echo "($gap - 0.1) * 1000" | bc)" \
	    "$first" "$last" "$(echo "($c1 - $c0) * 1000 / $TICK / $n" | bc -l)"
	kill -TERM "$MD_PID"
	wait_until "masterd to stop" sh -c "! kill -0 $MD_PID 2>/dev/null"
	wait "$MD_PID" 2>/dev/null
	MD_PID=""
done
